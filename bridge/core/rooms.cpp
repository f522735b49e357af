#include "bridge/core/rooms.hpp"

#include "bridge/core/logger.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/stanza_error.hpp"
#include "bridge/xmpp/xml_node.hpp"

namespace ferry::core {

namespace {

constexpr std::string_view muc_ns = "http://jabber.org/protocol/muc";
constexpr std::string_view muc_user_ns = "http://jabber.org/protocol/muc#user";
constexpr auto join_timeout = std::chrono::seconds(10);
constexpr auto retry_after_failure = std::chrono::seconds(30);

bool has_status(const xmpp::XmlNode& presence, std::string_view code) {
    const xmpp::XmlNode* x = presence.child("x", muc_user_ns);
    if (x == nullptr)
        return false;
    for (const auto& child : x->children())
        if (child->name() == "status" && child->attribute("code") == code)
            return true;
    return false;
}

} // namespace

Rooms::Rooms(xmpp::StanzaDispatcher& stanzas, Logger& logger) : stanzas_(stanzas), logger_(logger) {}

void Rooms::join(const std::string& room, Seat& seat) {
    xmpp::XmlNode presence("presence");
    presence.set_attribute("from", seat.occupant);
    presence.set_attribute("to", room + "/" + seat.nick);
    // No history: Ferry only speaks in the room.
    presence.add_child("x", std::string(muc_ns)).add_child("history").set_attribute("maxstanzas", "0");
    stanzas_.send(presence);
    seat.state = State::joining;
    seat.asked = std::chrono::steady_clock::now();
    logger_.info("rooms: joining " + room + " as " + seat.nick);
}

bool Rooms::seated(const std::string& room, const std::string& occupant, const std::string& nick) {
    const auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = seats_.try_emplace(room);
    Seat& seat = it->second;
    if (fresh || seat.occupant != occupant || seat.nick != nick) {
        seat.occupant = occupant;
        seat.nick = nick;
        join(room, seat);
        return false;
    }
    if (seat.state == State::joined)
        return true;
    const auto pause = seat.state == State::failed ? retry_after_failure : join_timeout;
    if (now - seat.asked >= pause)
        join(room, seat);
    return false;
}

std::string Rooms::failure(const std::string& room) const {
    const auto found = seats_.find(room);
    return found == seats_.end() ? std::string() : found->second.failure;
}

bool Rooms::handle(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    const std::string room = in.from.bare_string();
    const auto found = seats_.find(room);
    if (stanza.name() == "message" && stanza.attribute("type") == "groupchat")
        return true; // a room's traffic to an occupant of ours, our own reflections included: never answered
    if (found == seats_.end() || stanza.name() != "presence")
        return false;
    Seat& seat = found->second;
    if (in.to.full() != seat.occupant)
        return false;
    const std::string_view type = stanza.attribute("type");
    if (type == "error") {
        seat.state = State::failed;
        seat.failure = "the room refused to let Ferry join: " + xmpp::error_condition(stanza);
        logger_.warning("rooms: " + room + ": " + seat.failure);
        return true;
    }
    if (in.from.resource() == seat.nick || has_status(stanza, "110")) {
        if (type == "unavailable") {
            seat.state = State::failed; // kicked, banned, or the room went away
            seat.failure = "Ferry left the room or was removed from it";
            seat.asked = std::chrono::steady_clock::now() - retry_after_failure + std::chrono::seconds(2);
            logger_.warning("rooms: " + room + ": " + seat.failure);
        } else if (seat.state != State::joined) {
            seat.state = State::joined;
            seat.failure.clear();
            logger_.info("rooms: joined " + room + " as " + seat.nick);
        }
    }
    return true; // other occupants' presence: nothing to do
}

} // namespace ferry::core
