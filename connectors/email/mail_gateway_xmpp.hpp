#pragma once

#include <memory>

namespace ferry::store {
class MappingStore;
}
namespace ferry::xmpp {
class StanzaDispatcher;
struct InboundStanza;
} // namespace ferry::xmpp

namespace ferry::connectors::email {

class AddressBooks;

/// What the mail gateway answers in XMPP besides messages: XEP-0100's jabber:iq:gateway on the component
/// domain (a client turns a typed mail address into the contact's JID; disco#info shows gateway/smtp), and
/// subscriptions to mail contacts, accepted for every user who may send mail, so that a mail address can sit
/// in a roster without a request pending for ever.
///
/// With several mail connectors, the domain's gateway is the first enabled one by name that has a relay.
class MailGatewayXmpp {
public:
    MailGatewayXmpp(xmpp::StanzaDispatcher& stanzas, const store::MappingStore& store, AddressBooks& books);
    ~MailGatewayXmpp();
    MailGatewayXmpp(const MailGatewayXmpp&) = delete;
    MailGatewayXmpp& operator=(const MailGatewayXmpp&) = delete;

    /// A presence to a mail contact: true when it was answered (or needs no answer).
    bool handle_presence(const xmpp::InboundStanza& presence);

private:
    void answer_prompt(const xmpp::InboundStanza& iq);
    void translate(const xmpp::InboundStanza& iq);

    xmpp::StanzaDispatcher& stanzas_;
    const store::MappingStore& store_;
    AddressBooks& books_;
    /// The dispatcher keeps its handlers for good: they check this before they touch the gateway.
    std::shared_ptr<MailGatewayXmpp*> self_;
};

} // namespace ferry::connectors::email
