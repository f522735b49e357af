#pragma once

#include "connectors/connector.hpp"

#include <functional>

namespace ferry::xmpp {
class StanzaDispatcher;
}

namespace ferry::core {

/// Delivers outbox rows bound for XMPP (webhooks, alerts, remote chat → a JID) as message stanzas through
/// the component stream. The sender is `<connector>@<domain>`, or `<remote sender>%<connector>@<domain>`
/// when the message names one; the stanza id and XEP-0359 origin-id are the idempotency key, so a receiver
/// can tell a redelivery. While the stream is down rows wait in the outbox (retry), not in memory.
class XmppDelivery final : public connectors::Connector {
public:
    XmppDelivery(xmpp::StanzaDispatcher& stanzas, std::function<bool()> online);
    boost::asio::awaitable<connectors::DeliveryResult> send(const connectors::Delivery& delivery) override;

private:
    xmpp::StanzaDispatcher& stanzas_;
    std::function<bool()> online_;
};

} // namespace ferry::core
