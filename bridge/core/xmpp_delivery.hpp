#pragma once

#include "connectors/connector.hpp"

#include <functional>

namespace ferry::xmpp {
class StanzaDispatcher;
}
namespace ferry::mappings {
class MappingStore;
}

namespace ferry::core {

class Rooms;

/// Delivers outbox rows bound for XMPP (webhooks, alerts, remote chat → a JID) as message stanzas through
/// the component stream. The sender is `<connector>@<domain>`, or `<remote sender>%<connector>@<domain>`
/// when the message names one; the stanza id and XEP-0359 origin-id are the idempotency key, so a receiver
/// can tell a redelivery. While the stream is down rows wait in the outbox (retry), not in memory.
/// A mapping with the option `room=yes` names a MUC room: the message goes out as groupchat once Ferry has
/// joined the room as `<connector>@<domain>/ferry` with the nick of the option `nick` (default: the
/// connector's name); until then the row waits.
class XmppDelivery final : public connectors::Connector {
public:
    XmppDelivery(xmpp::StanzaDispatcher& stanzas, const mappings::MappingStore& store, Rooms& rooms,
                 std::function<bool()> online);
    boost::asio::awaitable<connectors::DeliveryResult> send(const connectors::Delivery& delivery) override;

private:
    xmpp::StanzaDispatcher& stanzas_;
    const mappings::MappingStore& store_;
    Rooms& rooms_;
    std::function<bool()> online_;
};

} // namespace ferry::core
