#pragma once

#include "mappings/cli/command.hpp"

namespace ferry::mappings::cli {

/// `ferry dead-letters list|retry`.
Command dead_letters_command();

} // namespace ferry::mappings::cli
