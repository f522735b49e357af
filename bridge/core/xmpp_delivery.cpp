#include "bridge/core/xmpp_delivery.hpp"

#include "bridge/core/router.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/xml_node.hpp"

namespace ferry::core {

namespace asio = boost::asio;
using connectors::DeliveryResult;

namespace {

/// XML 1.0 cannot carry most control characters; remote text may hold them.
std::string xml_safe(std::string text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 && c != '\t' && c != '\n' && c != '\r')
            out += "\xef\xbf\xbd"; // U+FFFD
        else
            out += c;
    }
    return out;
}

} // namespace

XmppDelivery::XmppDelivery(xmpp::StanzaDispatcher& stanzas, std::function<bool()> online)
    : stanzas_(stanzas), online_(std::move(online)) {}

asio::awaitable<DeliveryResult> XmppDelivery::send(const connectors::Delivery& delivery) {
    if (!online_())
        co_return DeliveryResult::retry("the XMPP server is not connected");
    const auto to = xmpp::Jid::parse_or_reason(delivery.destination);
    if (const auto* reason = std::get_if<std::string>(&to))
        co_return DeliveryResult::failed("invalid XMPP address " + delivery.destination + ": " + *reason);
    const core::Message& m = delivery.message;
    const std::string from = m.from.empty() ? xmpp::escape_node(m.source) + "@" + stanzas_.domain()
                                            : remote_jid(m.from, m.source, stanzas_.domain());
    xmpp::XmlNode stanza("message");
    stanza.set_attribute("from", from);
    stanza.set_attribute("to", std::get<xmpp::Jid>(to).full());
    stanza.set_attribute("type", "chat");
    stanza.set_attribute("id", delivery.idempotency_key);
    if (!m.subject.empty())
        stanza.add_child("subject").set_text(xml_safe(m.subject));
    stanza.add_child("body").set_text(xml_safe(m.text));
    stanza.add_child("origin-id", "urn:xmpp:sid:0").set_attribute("id", delivery.idempotency_key);
    stanzas_.send(stanza);
    co_return DeliveryResult::delivered(delivery.idempotency_key);
}

} // namespace ferry::core
