#pragma once

#include <string>
#include <string_view>

namespace ferry::xmpp {

/// XEP-0114 handshake value: lowercase hex SHA-1 of the stream id followed by the shared secret.
std::string component_handshake_digest(std::string_view stream_id, std::string_view secret);

} // namespace ferry::xmpp
