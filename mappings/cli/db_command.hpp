#pragma once

#include "mappings/cli/command.hpp"

namespace ferry::mappings::cli {

/// `ferry db migrate|status`.
Command db_command();

} // namespace ferry::mappings::cli
