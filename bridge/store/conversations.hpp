#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::store {

/// The outbox conversation of what a mapping carries to XMPP: "mapping:<id>:in". Rows of one conversation are
/// delivered in order, one at a time.
std::string inbound_conversation(std::int64_t mapping_id);
/// One of several conversations of a mapping many users share (a whole domain's), so that each recipient's
/// rows wait only for their own: "mapping:<id>:<part>:in".
std::string inbound_conversation(std::int64_t mapping_id, std::string_view part);
/// The outbox conversation of what a mapping carries from XMPP: "mapping:<id>:out".
std::string outbound_conversation(std::int64_t mapping_id);
/// The mapping of an inbound conversation ("mapping:<id>:in", "mapping:<id>:<part>:in"); nullopt for
/// anything else.
std::optional<std::int64_t> inbound_conversation_mapping(std::string_view conversation);
/// Whether a conversation carries rows to XMPP (those XmppDelivery delivers).
bool is_inbound_conversation(std::string_view conversation);

} // namespace ferry::store
