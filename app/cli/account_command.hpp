#pragma once

#include "app/cli/command.hpp"

namespace ferry::cli {

/// `ferry account add|list|show|remove`: a JID's registration with a connector, with its secret encrypted
/// with database.secret_key.
Command account_command();

} // namespace ferry::cli
