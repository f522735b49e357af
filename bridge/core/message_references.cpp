#include "bridge/core/message_references.hpp"

#include "bridge/xmpp/xml_node.hpp"

#include <charconv>

namespace ferry::core {

namespace {

constexpr std::string_view correct_ns = "urn:xmpp:message-correct:0";
constexpr std::string_view retract_ns = "urn:xmpp:message-retract:1";
constexpr std::string_view retract_ns_old = "urn:xmpp:message-retract:0";
constexpr std::string_view fasten_ns = "urn:xmpp:fasten:0";
constexpr std::string_view reply_ns = "urn:xmpp:reply:0";
constexpr std::string_view fallback_ns = "urn:xmpp:fallback:0";
constexpr std::string_view sid_ns = "urn:xmpp:sid:0";

std::size_t number(std::string_view text) {
    std::size_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

/// The byte offset of code point `index` in UTF-8 `text` (its size when past the end): XEP-0426 counts
/// code points.
std::size_t byte_offset(const std::string& text, std::size_t index) {
    std::size_t points = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xc0) == 0x80)
            continue;
        if (points == index)
            return i;
        ++points;
    }
    return text.size();
}

/// The body without the part a reply's fallback marks as quoted.
std::string without_reply_fallback(const xmpp::XmlNode& stanza, const std::string& body) {
    for (const auto& child : stanza.children()) {
        if (child->name() != "fallback" || child->xmlns() != fallback_ns ||
            child->attribute("for") != reply_ns)
            continue;
        const xmpp::XmlNode* range = child->child("body", fallback_ns);
        if (range == nullptr || !range->has_attribute("end"))
            return body; // the whole body is fallback only for clients that know no replies; keep it
        const std::size_t start = byte_offset(body, number(range->attribute("start")));
        const std::size_t end = byte_offset(body, number(range->attribute("end")));
        if (start >= end)
            return body;
        return body.substr(0, start) + body.substr(end);
    }
    return body;
}

} // namespace

bool read_message(const xmpp::XmlNode& stanza, Message& message) {
    message.source_id = std::string(stanza.attribute("id"));
    if (const xmpp::XmlNode* origin = stanza.child("origin-id", sid_ns);
        origin != nullptr && origin->has_attribute("id"))
        message.source_id = std::string(origin->attribute("id"));
    const xmpp::XmlNode* body = stanza.child("body");
    if (body != nullptr)
        message.text = body->text();
    if (const xmpp::XmlNode* retract = stanza.child("retract", retract_ns)) {
        message.kind = "retraction";
        message.refers_to = std::string(retract->attribute("id"));
        return !message.refers_to.empty();
    }
    if (const xmpp::XmlNode* fasten = stanza.child("apply-to", fasten_ns);
        fasten != nullptr && fasten->child("retract", retract_ns_old) != nullptr) {
        message.kind = "retraction";
        message.refers_to = std::string(fasten->attribute("id"));
        return !message.refers_to.empty();
    }
    if (body == nullptr)
        return false;
    if (const xmpp::XmlNode* replace = stanza.child("replace", correct_ns);
        replace != nullptr && replace->has_attribute("id")) {
        message.kind = "edit";
        message.refers_to = std::string(replace->attribute("id"));
    } else if (const xmpp::XmlNode* reply = stanza.child("reply", reply_ns);
               reply != nullptr && reply->has_attribute("id")) {
        message.kind = "reply";
        message.refers_to = std::string(reply->attribute("id"));
        message.text = without_reply_fallback(stanza, message.text);
    }
    return true;
}

std::string room_stanza_id(const xmpp::XmlNode& message, std::string_view room) {
    for (const auto& child : message.children())
        if (child->name() == "stanza-id" && child->xmlns() == sid_ns && child->attribute("by") == room)
            return std::string(child->attribute("id"));
    return {};
}

} // namespace ferry::core
