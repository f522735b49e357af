#pragma once

#include "app/cli/command.hpp"

namespace ferry::cli {

/// `ferry db migrate|status`.
Command db_command();

} // namespace ferry::cli
