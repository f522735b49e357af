#include "bridge/xmpp/stanza_dispatcher.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/xmpp/delivery_ticket.hpp"
#include "bridge/xmpp/stanza_error.hpp"

namespace ferry::xmpp {

StanzaDispatcher::StanzaDispatcher(std::string domain, Send send, core::Logger& logger)
    : domain_(std::move(domain)), send_(std::move(send)), logger_(logger) {}

void StanzaDispatcher::on_domain_iq(std::string_view type, std::string_view xmlns, IqHandler handler) {
    auto& handlers = type == "set" ? set_handlers_ : get_handlers_;
    handlers.insert_or_assign(std::string(xmlns), std::move(handler));
}

void StanzaDispatcher::reply_error(const XmlNode& stanza, std::string_view condition, std::string_view text) {
    ++rejected_[std::string(condition)];
    if (is_error_stanza(stanza))
        return;
    send_(make_error_reply(stanza, condition, text));
}

void StanzaDispatcher::send(const XmlNode& stanza, const std::shared_ptr<DeliveryTicket>& ticket) {
    if (send_delivery_)
        send_delivery_(stanza, ticket);
    else
        send_(stanza);
}

void StanzaDispatcher::advertise(Identity identity, std::string feature) {
    identities_.push_back(std::move(identity));
    features_.push_back(std::move(feature));
}

void StanzaDispatcher::refuse(const XmlNode& head, std::string_view reason) {
    const auto from = Jid::parse(head.attribute("from"));
    if (!from) {
        ++rejected_["invalid-from"];
        return;
    }
    const std::string_view kind = head.name();
    const std::string_view type = head.attribute("type");
    // Only a chat message or an IQ request is answered: an error bounced to a room (a groupchat message, a
    // presence) would make it drop our occupant, and IQ results are not requests.
    const bool answerable =
        (kind == "message" && type != "groupchat") || (kind == "iq" && (type == "get" || type == "set"));
    if (!answerable) {
        ++rejected_["policy-violation"];
        return;
    }
    reply_error(head, "policy-violation", reason);
}

void StanzaDispatcher::dispatch(const XmlNode& stanza) {
    const std::string& kind = stanza.name();
    if (kind != "message" && kind != "presence" && kind != "iq") {
        logger_.warning("ignoring unexpected <" + kind + "/> element from the server");
        return;
    }
    const auto from = Jid::parse(stanza.attribute("from"));
    if (!from) {
        // Without a valid sender there is nobody to answer.
        logger_.warning("dropping <" + kind + "/> with an invalid 'from' address: '" +
                        std::string(stanza.attribute("from")) + "'");
        ++rejected_["invalid-from"];
        return;
    }
    const auto to = Jid::parse(stanza.attribute("to"));
    if (!to) {
        reply_error(stanza, "jid-malformed", "the 'to' address is not a valid JID");
        return;
    }
    if (to->domain() != domain_) {
        logger_.warning("rejecting <" + kind + "/> for " + to->full() + ": not our domain " + domain_);
        reply_error(stanza, "item-not-found", "this component serves " + domain_ + " only");
        return;
    }
    if (is_error_stanza(stanza)) {
        if (logger_.enabled(core::LogLevel::debug))
            logger_.debug("error stanza from " + from->full() + ": " + stanza.to_string());
        if (address_handler_)
            address_handler_({stanza, *from, *to});
        return;
    }
    const InboundStanza inbound{stanza, *from, *to};
    if (kind == "iq") {
        dispatch_iq(inbound);
        return;
    }
    if (address_handler_ && address_handler_(inbound))
        return;
    if (kind == "message") {
        reply_error(stanza, "service-unavailable", "no bridge is mapped to " + to->bare_string());
        return;
    }
    // RFC 6121 §8.5.1: presence without a type or of type unavailable to an unknown address is ignored;
    // subscription requests and probes get service-unavailable.
    const std::string_view type = stanza.attribute("type");
    if (type.empty() || type == "unavailable") {
        if (logger_.enabled(core::LogLevel::debug))
            logger_.debug("ignoring presence to unknown address " + to->full());
        return;
    }
    reply_error(stanza, "service-unavailable", "no bridge is mapped to " + to->bare_string());
}

void StanzaDispatcher::dispatch_iq(const InboundStanza& inbound) {
    const XmlNode& iq = inbound.node;
    const std::string_view type = iq.attribute("type");
    if (type == "result") {
        if (address_handler_)
            address_handler_(inbound);
        return;
    }
    if (type != "get" && type != "set") {
        reply_error(iq, "bad-request", "IQ type must be get, set, result or error");
        return;
    }
    if (!iq.has_attribute("id") || iq.children().size() != 1) {
        reply_error(iq, "bad-request", "an IQ request needs an id and exactly one payload element");
        return;
    }
    if (inbound.to.local().empty() && inbound.to.resource().empty()) {
        const XmlNode& payload = *iq.first_child();
        const auto& handlers = type == "set" ? set_handlers_ : get_handlers_;
        const auto handler = handlers.find(payload.xmlns());
        if (handler != handlers.end()) {
            handler->second(inbound);
            return;
        }
    } else if (address_handler_ && address_handler_(inbound)) {
        return;
    }
    reply_error(iq, "service-unavailable");
}

} // namespace ferry::xmpp
