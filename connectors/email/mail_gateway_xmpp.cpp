#include "connectors/email/mail_gateway_xmpp.hpp"

#include "bridge/core/router.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/stanza_error.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/mail_address.hpp"

#include <algorithm>

namespace ferry::connectors::email {

namespace {

constexpr std::string_view gateway_ns = "jabber:iq:gateway";

/// The connector that answers for the domain: the first enabled mail connector by name with a relay.
const store::Connector* gateway_connector(const store::MappingSnapshot& snapshot) {
    const store::Connector* chosen = nullptr;
    for (const store::Connector& connector : snapshot.connectors())
        if (connector.kind == "email" && connector.enabled &&
            !store::text_setting(connector.settings, "relay").empty() &&
            (chosen == nullptr || connector.name < chosen->name))
            chosen = &connector;
    return chosen;
}

std::string trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

} // namespace

MailGatewayXmpp::MailGatewayXmpp(xmpp::StanzaDispatcher& stanzas, const store::MappingStore& store,
                                 AddressBooks& books)
    : stanzas_(stanzas), store_(store), books_(books), self_(std::make_shared<MailGatewayXmpp*>(this)) {
    const std::weak_ptr<MailGatewayXmpp*> self = self_;
    const auto while_alive = [self, &stanzas](void (MailGatewayXmpp::*answer)(const xmpp::InboundStanza&)) {
        return [self, &stanzas, answer](const xmpp::InboundStanza& iq) {
            if (const auto alive = self.lock())
                ((*alive)->*answer)(iq);
            else
                stanzas.send(
                    xmpp::make_error_reply(iq.node, "service-unavailable", "the mail gateway has stopped"));
        };
    };
    stanzas_.on_domain_iq("get", gateway_ns, while_alive(&MailGatewayXmpp::answer_prompt));
    stanzas_.on_domain_iq("set", gateway_ns, while_alive(&MailGatewayXmpp::translate));
    stanzas_.advertise({"gateway", "smtp", "Mail"}, std::string(gateway_ns));
}

MailGatewayXmpp::~MailGatewayXmpp() = default;

void MailGatewayXmpp::answer_prompt(const xmpp::InboundStanza& iq) {
    if (gateway_connector(*store_.snapshot()) == nullptr) {
        stanzas_.send(xmpp::make_error_reply(iq.node, "service-unavailable", "no mail connector is set up"));
        return;
    }
    xmpp::XmlNode reply = xmpp::make_iq_result(iq.node);
    xmpp::XmlNode& query = reply.add_child("query", std::string(gateway_ns));
    query.add_child("desc").set_text("Enter the mail address of the person you want to write to.");
    query.add_child("prompt").set_text("Mail address");
    stanzas_.send(reply);
}

void MailGatewayXmpp::translate(const xmpp::InboundStanza& iq) {
    const auto snapshot = store_.snapshot();
    const store::Connector* connector = gateway_connector(*snapshot);
    if (connector == nullptr) {
        stanzas_.send(xmpp::make_error_reply(iq.node, "service-unavailable", "no mail connector is set up"));
        return;
    }
    const xmpp::XmlNode* prompt = iq.node.first_child()->child("prompt");
    const std::string typed =
        trimmed(prompt != nullptr ? std::string_view(prompt->text()) : std::string_view());
    auto parsed = parse_mail_address_or_reason(typed);
    if (const auto* reason = std::get_if<std::string>(&parsed)) {
        stanzas_.send(xmpp::make_error_reply(iq.node, "not-acceptable", *reason));
        return;
    }
    const auto jid =
        core::exact_remote_jid(std::get<MailAddress>(parsed).text(), connector->name, iq.to.domain());
    if (!jid) {
        stanzas_.send(xmpp::make_error_reply(iq.node, "not-acceptable", "no JID can carry this address"));
        return;
    }
    xmpp::XmlNode reply = xmpp::make_iq_result(iq.node);
    reply.add_child("query", std::string(gateway_ns)).add_child("jid").set_text(*jid);
    stanzas_.send(reply);
}

bool MailGatewayXmpp::handle_presence(const xmpp::InboundStanza& presence) {
    const auto parts = core::split_remote_local(presence.to.local());
    if (!parts)
        return false;
    const auto snapshot = store_.snapshot();
    const store::Connector* connector = snapshot->connector(parts->second);
    if (connector == nullptr || connector->kind != "email")
        return false;
    const std::string_view type = presence.node.attribute("type");
    if (type != "subscribe" && type != "probe")
        return true; // availability, unsubscriptions, approvals: nothing to answer for a mail contact
    if (!parse_mail_address(parts->first) ||
        !books_.of(*snapshot, connector->id)->sender(presence.from.bare_string()))
        return false; // not a contact this user can write to: the dispatcher refuses it
    xmpp::XmlNode answer("presence");
    answer.set_attribute("from", presence.to.bare_string());
    answer.set_attribute("to", presence.from.bare_string());
    // A mail contact is never online: a subscription is approved, a probe learns it is unavailable.
    answer.set_attribute("type", type == "subscribe" ? "subscribed" : "unavailable");
    stanzas_.send(answer);
    return true;
}

} // namespace ferry::connectors::email
