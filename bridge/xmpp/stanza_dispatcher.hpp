#pragma once

#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/xml_node.hpp"

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace ferry::core {
class Logger;
}

namespace ferry::xmpp {

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
    /// Registers the handler for everything else that carries a known meaning (messages, presence, IQs to
    /// local parts). Without one, every such stanza is an unknown address.
    void on_address(AddressHandler handler) { address_handler_ = std::move(handler); }

    void dispatch(const XmlNode& stanza);
    void send(const XmlNode& stanza) { send_(stanza); }
    const std::string& domain() const { return domain_; }

private:
    void dispatch_iq(const InboundStanza& inbound);
    void reply_error(const XmlNode& stanza, std::string_view condition, std::string_view text = {});

    std::string domain_;
    Send send_;
    core::Logger& logger_;
    std::map<std::string, IqHandler, std::less<>> get_handlers_; ///< by payload namespace
    std::map<std::string, IqHandler, std::less<>> set_handlers_;
    AddressHandler address_handler_;
};

} // namespace ferry::xmpp
