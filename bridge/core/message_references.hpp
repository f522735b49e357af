#pragma once

#include "bridge/core/message.hpp"

#include <string>
#include <string_view>

namespace ferry::xmpp {
class XmlNode;
}

namespace ferry::core {

/// Reads what an XMPP message says about an earlier one into `message` (kind and refers_to): a correction
/// (XEP-0308 `<replace id>`), a retraction (XEP-0424 `<retract id>`, also the older fastening form) or a
/// reply (XEP-0461 `<reply id>`, whose quoted fallback — XEP-0428 — is cut from the text). The message's own
/// id is the origin-id (XEP-0359) when it has one, else its id attribute. Returns false when the stanza has
/// nothing to bridge (no body and no retraction).
bool read_message(const xmpp::XmlNode& stanza, Message& message);

/// The stanza-id (XEP-0359) that `room` gave a groupchat message, or empty.
std::string room_stanza_id(const xmpp::XmlNode& message, std::string_view room);

} // namespace ferry::core
