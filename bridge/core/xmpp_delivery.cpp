#include "bridge/core/xmpp_delivery.hpp"

#include "bridge/core/rooms.hpp"
#include "bridge/core/router.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/xml_node.hpp"
#include "mappings/mapping_store.hpp"

#include <nlohmann/json.hpp>

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

/// The mapping a row for XMPP came from: its conversation is "mapping:<id>:in".
const mappings::Mapping* mapping_of(const mappings::MappingSnapshot& snapshot,
                                    const std::string& conversation) {
    constexpr std::string_view prefix = "mapping:";
    if (!conversation.starts_with(prefix) || !conversation.ends_with(":in"))
        return nullptr;
    const std::string id = conversation.substr(prefix.size(), conversation.size() - prefix.size() - 3);
    try {
        return snapshot.mapping(std::stoll(id));
    } catch (const std::exception&) {
        return nullptr;
    }
}

bool option_on(const nlohmann::json& options, const char* name) {
    const auto found = options.find(name);
    if (found == options.end() || !found->is_string())
        return false;
    const std::string value = found->get<std::string>();
    return value == "yes" || value == "true" || value == "1";
}

XmppDelivery::XmppDelivery(xmpp::StanzaDispatcher& stanzas, const mappings::MappingStore& store, Rooms& rooms,
                           std::function<bool()> online)
    : stanzas_(stanzas), store_(store), rooms_(rooms), online_(std::move(online)) {}

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
    const auto snapshot = store_.snapshot();
    const mappings::Mapping* mapping = mapping_of(*snapshot, delivery.conversation);
    if (mapping != nullptr && option_on(mapping->options, "room")) {
        const std::string room = std::get<xmpp::Jid>(to).bare_string();
        const std::string occupant = xmpp::escape_node(m.source) + "@" + stanzas_.domain() + "/ferry";
        const auto nick_option = mapping->options.find("nick");
        const std::string nick = nick_option != mapping->options.end() && nick_option->is_string() &&
                                         !nick_option->get<std::string>().empty()
                                     ? nick_option->get<std::string>()
                                     : m.source;
        if (!rooms_.seated(room, occupant, nick)) {
            const std::string why = rooms_.failure(room);
            co_return DeliveryResult::retry("not in room " + room + " yet" + (why.empty() ? "" : ": " + why),
                                            std::chrono::seconds(1));
        }
        stanza.set_attribute("from", occupant);
        stanza.set_attribute("to", room);
        stanza.set_attribute("type", "groupchat");
    } else {
        stanza.set_attribute("from", from);
        stanza.set_attribute("to", std::get<xmpp::Jid>(to).full());
        stanza.set_attribute("type", "chat");
    }
    stanza.set_attribute("id", delivery.idempotency_key);
    if (!m.subject.empty())
        stanza.add_child("subject").set_text(xml_safe(m.subject));
    stanza.add_child("body").set_text(xml_safe(m.text));
    stanza.add_child("origin-id", "urn:xmpp:sid:0").set_attribute("id", delivery.idempotency_key);
    stanzas_.send(stanza);
    co_return DeliveryResult::delivered(delivery.idempotency_key);
}

} // namespace ferry::core
