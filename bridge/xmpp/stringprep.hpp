#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::xmpp {

/// The stringprep profiles of RFC 3920 that Prosody and ejabberd apply to every address they route (libidn's
/// implementation, unassigned code points allowed as the servers allow them). A part they refuse (a
/// prohibited character such as U+FFFD or a private-use one, mixed right-to-left and left-to-right text)
/// makes the server drop the stanza without telling anyone, so every address Ferry builds from outside input
/// is checked here. Each returns the prepared form, or nullopt when the server would refuse the part.
std::optional<std::string> nodeprep(std::string_view local);
std::optional<std::string> resourceprep(std::string_view resource);

} // namespace ferry::xmpp
