#pragma once

#include <string_view>

namespace ferry::xmpp::ns {

inline constexpr std::string_view component = "jabber:component:accept";
inline constexpr std::string_view streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view stanza_errors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view disco_info = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view disco_items = "http://jabber.org/protocol/disco#items";
inline constexpr std::string_view version = "jabber:iq:version";
inline constexpr std::string_view ping = "urn:xmpp:ping";
inline constexpr std::string_view time = "urn:xmpp:time";

} // namespace ferry::xmpp::ns
