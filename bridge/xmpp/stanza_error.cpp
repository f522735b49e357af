#include "bridge/xmpp/stanza_error.hpp"

#include "bridge/xmpp/namespaces.hpp"

namespace ferry::xmpp {

std::string_view default_error_type(std::string_view condition) {
    if (condition == "bad-request" || condition == "jid-malformed" || condition == "not-acceptable" ||
        condition == "policy-violation" || condition == "redirect" || condition == "gone")
        return "modify";
    if (condition == "forbidden" || condition == "not-authorized" || condition == "registration-required" ||
        condition == "subscription-required")
        return "auth";
    if (condition == "internal-server-error" || condition == "recipient-unavailable" ||
        condition == "remote-server-timeout" || condition == "resource-constraint" ||
        condition == "unexpected-request")
        return "wait";
    return "cancel";
}

namespace {

XmlNode reply_skeleton(const XmlNode& stanza, std::string type) {
    XmlNode reply(stanza.name());
    reply.reserve_attributes(4);
    if (auto from = stanza.attribute("to"); !from.empty())
        reply.set_attribute("from", std::string(from));
    if (auto to = stanza.attribute("from"); !to.empty())
        reply.set_attribute("to", std::string(to));
    if (stanza.has_attribute("id"))
        reply.set_attribute("id", std::string(stanza.attribute("id")));
    reply.set_attribute("type", std::move(type));
    return reply;
}

} // namespace

XmlNode make_error_reply(const XmlNode& stanza, std::string_view condition, std::string_view text) {
    XmlNode reply = reply_skeleton(stanza, "error");
    XmlNode& error = reply.add_child("error");
    error.set_attribute("type", std::string(default_error_type(condition)));
    error.add_child(std::string(condition), std::string(ns::stanza_errors));
    if (!text.empty())
        error.add_child("text", std::string(ns::stanza_errors))
            .set_attribute("xml:lang", "en")
            .set_text(std::string(text));
    return reply;
}

XmlNode make_iq_result(const XmlNode& request) {
    return reply_skeleton(request, "result");
}

std::string error_condition(const XmlNode& stanza) {
    if (const XmlNode* error = stanza.child("error"))
        for (const auto& child : error->children())
            if (child->xmlns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && child->name() != "text")
                return child->name();
    return "error";
}

} // namespace ferry::xmpp
