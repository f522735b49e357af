#pragma once

#include "bridge/xmpp/xml_node.hpp"

#include <string>
#include <string_view>

namespace ferry::xmpp {

/// The RFC 6120 §8.3.2 error type that goes with a defined condition ("cancel", "modify", "wait", "auth").
std::string_view default_error_type(std::string_view condition);

/// The error reply to a stanza (RFC 6120 §8.3.1): same element and id, addresses swapped, type "error",
/// an <error/> with the defined condition and, when given, a human-readable <text/>.
XmlNode make_error_reply(const XmlNode& stanza, std::string_view condition, std::string_view text = {});

/// An IQ result answering the given request: addresses swapped, same id, optionally a payload.
XmlNode make_iq_result(const XmlNode& request);

/// True for stanzas of type "error": they are never answered with another error.
/// The defined condition of an error stanza ("forbidden", "item-not-found", …), or "error" when it has none.
std::string error_condition(const XmlNode& stanza);

inline bool is_error_stanza(const XmlNode& stanza) {
    return stanza.attribute("type") == "error";
}

} // namespace ferry::xmpp
