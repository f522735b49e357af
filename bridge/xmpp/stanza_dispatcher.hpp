#pragma once

#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/xml_node.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {
class Logger;
}

namespace ferry::xmpp {

class DeliveryTicket;

/// A validated inbound stanza: the element plus its parsed addresses.
struct InboundStanza {
    const XmlNode& node;
    const Jid& from;
    const Jid& to;
};

/// Routes stanzas that the server hands to the component.
/// IQ requests addressed to the component domain go to the handler registered for (type, payload namespace);
/// stanzas addressed to a local part go to the address handler. What nobody handles gets the RFC 6120/6121
/// error reply; errors are never answered with errors.
class StanzaDispatcher {
public:
    using Send = std::function<void(const XmlNode&)>;
    /// Sends a delivery whose ticket tells when the server has processed it.
    using SendDelivery = std::function<void(const XmlNode&, const std::shared_ptr<DeliveryTicket>&)>;
    /// Answers an IQ request; the reply is sent by the handler through the Send given to the dispatcher.
    using IqHandler = std::function<void(const InboundStanza&)>;
    /// Handles a message or presence, or an IQ addressed to a local part; returns false when the address is
    /// unknown, so the dispatcher answers with the error reply.
    using AddressHandler = std::function<bool(const InboundStanza&)>;

    StanzaDispatcher(std::string domain, Send send, core::Logger& logger);
    StanzaDispatcher(const StanzaDispatcher&) = delete;
    StanzaDispatcher& operator=(const StanzaDispatcher&) = delete;

    /// Registers the handler for IQs of type "get" or "set" to the domain whose payload has this namespace.
    void on_domain_iq(std::string_view type, std::string_view xmlns, IqHandler handler);
    /// What the domain says it is and does in disco#info beyond the entity services (XEP-0030): a family
    /// that answers on the domain (jabber:iq:gateway) names its identity (gateway/smtp) and feature here.
    struct Identity {
        std::string category;
        std::string type;
        std::string name;
    };
    void advertise(Identity identity, std::string feature);
    const std::vector<Identity>& advertised_identities() const { return identities_; }
    const std::vector<std::string>& advertised_features() const { return features_; }

    /// Registers the handler for everything else that carries a known meaning (messages, presence, IQs to
    /// local parts). Without one, every such stanza is an unknown address.
    void on_address(AddressHandler handler) { address_handler_ = std::move(handler); }

    /// How deliveries are sent (ComponentStream::send with a ticket). Without one, a delivery is sent like
    /// any stanza and its ticket, which then counts no stanza, reads as confirmed.
    void on_send_delivery(SendDelivery send) { send_delivery_ = std::move(send); }

    void dispatch(const XmlNode& stanza);
    void send(const XmlNode& stanza) { send_(stanza); }
    void send(const XmlNode& stanza, const std::shared_ptr<DeliveryTicket>& ticket);
    /// Answers a stanza the stream skipped (over a size, depth or attribute limit) with a policy-violation
    /// error when it is a chat message or an IQ request from a valid sender; counts it in any case.
    void refuse(const XmlNode& head, std::string_view reason);
    /// Stanzas rejected so far, by reason: the error condition answered, or why one was dropped unanswered.
    const std::map<std::string, std::uint64_t, std::less<>>& rejected() const { return rejected_; }
    const std::string& domain() const { return domain_; }

private:
    void dispatch_iq(const InboundStanza& inbound);
    void reply_error(const XmlNode& stanza, std::string_view condition, std::string_view text = {});

    std::string domain_;
    Send send_;
    SendDelivery send_delivery_;
    std::map<std::string, std::uint64_t, std::less<>> rejected_;
    core::Logger& logger_;
    std::map<std::string, IqHandler, std::less<>> get_handlers_; ///< by payload namespace
    std::map<std::string, IqHandler, std::less<>> set_handlers_;
    AddressHandler address_handler_;
    std::vector<Identity> identities_;
    std::vector<std::string> features_;
};

} // namespace ferry::xmpp
