#pragma once

#include <chrono>
#include <map>
#include <string>

namespace ferry::xmpp {
class StanzaDispatcher;
struct InboundStanza;
} // namespace ferry::xmpp

namespace ferry::core {

class Logger;

/// Ferry's seats in multi-user chat rooms (XEP-0045). Messages for a room go out as groupchat from an
/// occupant that has joined it: `<connector>@<domain>/ferry` with the mapping's nick. A seat is taken on
/// first use and counts as joined once the room sends our own presence back (status 110); after the
/// component stream reconnects every seat is taken again. Reflections of our own messages and the room's
/// presence traffic end here, never as errors sent back to the room.
class Rooms {
public:
    Rooms(xmpp::StanzaDispatcher& stanzas, Logger& logger);

    /// True when `occupant` (our full JID) has joined `room` (a bare JID) as `nick`; otherwise asks to join
    /// (again, after a pause, when the last attempt failed or went unanswered) and returns false.
    bool seated(const std::string& room, const std::string& occupant, const std::string& nick);
    /// Why the last join of `room` failed, or empty.
    std::string failure(const std::string& room) const;
    /// Presences from rooms we sit in and groupchat messages to our occupants: handled (true), or not ours.
    bool handle(const xmpp::InboundStanza& in);
    /// The stream reconnected: the server has forgotten every seat.
    void forget_all() { seats_.clear(); }

private:
    enum class State { joining, joined, failed };
    struct Seat {
        std::string occupant;
        std::string nick;
        State state = State::joining;
        std::chrono::steady_clock::time_point asked;
        std::string failure;
    };
    void join(const std::string& room, Seat& seat);

    xmpp::StanzaDispatcher& stanzas_;
    Logger& logger_;
    std::map<std::string, Seat> seats_; ///< by room bare JID
};

} // namespace ferry::core
