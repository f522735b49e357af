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

/// The connector's own seat of an occupant JID: `a%slack@ferry.example.org/ferry` →
/// `slack@ferry.example.org/ferry`.
std::string connector_seat_of(const std::string& occupant) {
    const auto at = occupant.find('@');
    const auto percent = occupant.rfind('%', at);
    return percent == std::string::npos || at == std::string::npos ? occupant : occupant.substr(percent + 1);
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

bool Rooms::seated(const std::string& room, const std::string& occupant_jid, const std::string& nick) {
    const auto now = std::chrono::steady_clock::now();
    // Servers case-fold local parts: the room's answers come to the normalised JID.
    const auto parsed = xmpp::Jid::parse(occupant_jid);
    const std::string occupant = parsed ? parsed->full() : occupant_jid;
    auto [it, fresh] = seats_.try_emplace({room, occupant});
    Seat& seat = it->second;
    if (fresh || seat.nick != nick) {
        seat.room = room;
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
    for (auto it = seats_.lower_bound({room, std::string()}); it != seats_.end() && it->first.first == room;
         ++it)
        if (!it->second.failure.empty())
            return it->second.failure;
    return {};
}

bool Rooms::own_nick(const std::string& room, const std::string& nick,
                     const std::string& connector_seat) const {
    for (auto it = seats_.lower_bound({room, std::string()}); it != seats_.end() && it->first.first == room;
         ++it)
        if (it->second.nick == nick && connector_seat_of(it->second.occupant) == connector_seat)
            return true;
    return false;
}

bool Rooms::handle(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    const std::string room = in.from.bare_string();
    const std::string occupant = in.to.full();
    if (stanza.name() == "message" && stanza.attribute("type") == "groupchat") {
        // What the room says reaches every seat of ours: only a connector's own seat passes it on, and only
        // what did not come from that connector's seats (our own reflections).
        const bool connector_seat = in.to.resource() == "ferry" && connector_seat_of(occupant) == occupant;
        return !connector_seat || in.from.resource().empty() || own_nick(room, in.from.resource(), occupant);
    }
    const auto found = seats_.find({room, occupant});
    if (found == seats_.end() || stanza.name() != "presence")
        return false;
    Seat& seat = found->second;
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
