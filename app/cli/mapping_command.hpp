#pragma once

#include "app/cli/command.hpp"

#include <string>
#include <string_view>

namespace ferry::cli {

/// `ferry mapping add|list|show|remove|enable|disable`.
Command mapping_command();

/// Validates an XMPP address for a mapping and returns its normalised bare form (ASCII lowercased in
/// the localpart and domainpart). UsageError when it is not a JID or carries a resource.
/// `full_jid_refusal` starts the error for a full JID.
std::string
mapping_address(std::string_view text,
                std::string_view full_jid_refusal = "a mapping binds a bare JID or a room, not a full JID");

} // namespace ferry::cli
