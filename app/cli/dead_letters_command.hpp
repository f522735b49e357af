#pragma once

#include "app/cli/command.hpp"

namespace ferry::cli {

/// `ferry dead-letters list|retry`.
Command dead_letters_command();

} // namespace ferry::cli
