#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace ferry::xmpp {
class StanzaDispatcher;
struct InboundStanza;
} // namespace ferry::xmpp

namespace ferry::core {

class Logger;

/// Ferry's seats in multi-user chat rooms (XEP-0045). Messages for a room go out as groupchat from an
/// occupant that has joined it: the connector's own seat `<connector>@<domain>/ferry` (alerts, and the seat
/// that listens to what the room says), or one seat per remote sender `<sender>%<connector>@<domain>/ferry`
/// with a nick such as `alice (chat)`, so XMPP users see who said what. A seat is taken on first use and
/// counts as joined once the room sends our own presence back (status 110); after the component stream
/// reconnects every seat is taken again. The room's presence traffic and the copies of its messages sent
/// to our other seats end here, never as errors sent back to the room.
class Rooms {
public:
    Rooms(xmpp::StanzaDispatcher& stanzas, Logger& logger);

    /// True when `occupant` (our full JID) has joined `room` (a bare JID) as `nick`; otherwise asks to join
    /// (again, after a pause, when the last attempt failed or went unanswered) and returns false.
    bool seated(const std::string& room, const std::string& occupant, const std::string& nick);
    /// Why the last join of `room` failed, or empty.
    std::string failure(const std::string& room) const;
    /// Presences from rooms we sit in and groupchat messages to our occupants: handled (true), or not ours.
    /// A live groupchat message to a connector's own seat from someone who is not one of that connector's
    /// seats is left to the caller (false): it is what the room says, to be bridged.
    bool handle(const xmpp::InboundStanza& in);
    /// True when `nick` in `room` is one of our seats of the connector whose own seat is `connector_seat`
    /// (its messages came from that connector: bridging them back would echo).
    bool own_nick(const std::string& room, const std::string& nick, const std::string& connector_seat) const;
    /// Our occupant (full JID) that has joined `room` as `nick` (or asked for it and got a variant), or
    /// empty.
    std::string occupant_named(const std::string& room, const std::string& nick) const;
    /// The stream reconnected: the server has forgotten every seat (the marks stay).
    void forget_all() {
        seats_.clear();
        catching_up_.clear();
    }

    /// Where a connector's seat (`<connector>@<domain>/ferry`) left off in a room: the whole second of the
    /// last message it passed on, digests of the messages it passed on within that second, and the room's
    /// stanza-id of that message when the room archives (XEP-0313). Its next join asks the archive for
    /// everything after that id, or, without one, the room for its history since that second (replayed
    /// messages already passed on are dropped).
    using Clock = std::chrono::system_clock;
    struct Mark {
        Clock::time_point second;
        std::set<std::string> keys;
        std::string archive_id;
    };
    /// Loaded from room_marks at start.
    void set_mark(const std::string& room, const std::string& connector_seat, Mark mark);
    /// Called whenever handle() lets a message through and so moves a mark (to persist it).
    using MarkObserver =
        std::function<void(const std::string& room, const std::string& connector_seat, const Mark& mark)>;
    void on_mark(MarkObserver observer) { on_mark_ = std::move(observer); }
    /// Receives what a room's archive returns to a connector's seat (a groupchat message as the room sent it,
    /// with its stanza-id) to be bridged like a live one; duplicates of live ones are recognised by that id.
    using ArchivedObserver = std::function<void(const xmpp::InboundStanza& message)>;
    void on_archived(ArchivedObserver observer) { on_archived_ = std::move(observer); }
    /// Receives, for a message one of Ferry's occupants said in a room, the id Ferry gave it and the
    /// stanza-id the room gave it (XEP-0461 replies and XEP-0424 retractions in rooms name the latter).
    using ReflectedObserver =
        std::function<void(const std::string& room, const std::string& connector_seat,
                           const std::string& nick, const std::string& own_id, const std::string& room_id)>;
    void on_reflected(ReflectedObserver observer) { on_reflected_ = std::move(observer); }

private:
    enum class State { joining, joined, failed };
    struct Seat {
        std::string room;
        std::string occupant; ///< our full JID in the room
        std::string wanted;   ///< the nick asked for
        std::string nick;     ///< the nick joined with: `wanted`, or a variant when that was taken
        State state = State::joining;
        std::chrono::steady_clock::time_point asked;
        std::string failure;
        std::string catch_up_after; ///< once joined: ask the archive for what followed this stanza-id
    };
    void join(const std::string& room, Seat& seat);
    /// A seat asking a room's archive for what it missed. Live messages meanwhile are bridged but move the
    /// mark only once the archive is done (a crash half-way must not skip the pages not yet read).
    struct CatchUp {
        int pages = 0;
        std::string start; ///< XEP-0082: asking by time (the room did not know the id), or empty
        bool live_seen = false;
        Clock::time_point live_when;
        std::string live_nick, live_body, live_id; ///< the newest live message meanwhile
    };
    /// Asks `room`'s archive for a page of messages after `after`, or from `start` (XEP-0313 with XEP-0059
    /// paging).
    void query_archive(const std::string& room, const std::string& occupant, const std::string& after,
                       const std::string& start);
    void finish_catch_up(const std::string& room, const std::string& occupant);
    /// What the room says: passed on (false) when it is new and reached a connector's own seat; our own
    /// reflections and what other seats hear are taken (true).
    bool handle_groupchat(const xmpp::InboundStanza& in, const std::string& room,
                          const std::string& occupant);
    /// Presences to our seats: joins, refusals (a taken nick tries a variant), removals.
    bool handle_presence(const xmpp::InboundStanza& in, const std::string& room, const std::string& occupant);
    /// A MAM result (a message wrapping an archived one) or the end of a query page (an IQ result or error).
    bool handle_archive(const xmpp::InboundStanza& in);

    xmpp::StanzaDispatcher& stanzas_;
    Logger& logger_;
    std::map<std::pair<std::string, std::string>, Seat> seats_; ///< by (room bare JID, occupant)
    /// True when a message said in `room` at `when` by `nick` is new to the seat's mark; records it if so.
    bool pass_on(const std::string& room, const std::string& seat, Clock::time_point when,
                 const std::string& nick, const std::string& body, bool replayed,
                 const std::string& archive_id);

    std::map<std::pair<std::string, std::string>, Mark> marks_; ///< by (room, connector seat)
    MarkObserver on_mark_;
    ArchivedObserver on_archived_;
    ReflectedObserver on_reflected_;
    std::map<std::pair<std::string, std::string>, CatchUp> catching_up_; ///< by (room, connector seat)
    unsigned long queries_ = 0;
};

} // namespace ferry::core
