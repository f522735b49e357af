#include "bridge/core/rooms.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/message_references.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/stanza_error.hpp"
#include "bridge/xmpp/xml_node.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>

namespace ferry::core {

namespace {

constexpr std::string_view muc_ns = "http://jabber.org/protocol/muc";
constexpr std::string_view muc_user_ns = "http://jabber.org/protocol/muc#user";
constexpr std::string_view mam_ns = "urn:xmpp:mam:2";
constexpr std::string_view rsm_ns = "http://jabber.org/protocol/rsm";
constexpr std::string_view sid_ns = "urn:xmpp:sid:0";
constexpr std::string_view mam_query_prefix = "mam:";
constexpr std::string_view archive_page_size = "50";
constexpr int max_archive_pages = 200; // 10,000 messages: an outage longer than that is not replayed whole
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

/// The connector's own seat of an occupant JID: `a%chat@ferry.example.org/ferry` →
/// `chat@ferry.example.org/ferry`.
std::string connector_seat_of(const std::string& occupant) {
    const auto at = occupant.find('@');
    const auto percent = occupant.rfind('%', at);
    return percent == std::string::npos || at == std::string::npos ? occupant : occupant.substr(percent + 1);
}

/// Another nick for an occupant whose nick is taken: a short digest of its JID before the connector's part,
/// `John (chat)` → `John #3f2a (chat)` (still ending in ` (<connector>)`, which marks Ferry's seats).
std::string nick_variant(const std::string& nick, const std::string& occupant) {
    const std::string mark = " #" + hmac_sha256_hex("nick", occupant).substr(0, 4);
    const auto connector_part = nick.rfind(" (");
    if (connector_part == std::string::npos)
        return nick + mark;
    return nick.substr(0, connector_part) + mark + nick.substr(connector_part);
}

/// XEP-0082 DateTime in UTC with milliseconds.
std::string xep0082(std::chrono::system_clock::time_point when) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis % 1000));
    return text;
}

/// A XEP-0082 DateTime (`2026-11-26T02:30:00Z`, `…:00.123Z`, `…:00+01:00`), or nullopt.
std::optional<std::chrono::system_clock::time_point> parse_xep0082(std::string_view text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int used = 0;
    const std::string copy(text);
    if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                    &used) != 6)
        return std::nullopt;
    std::string_view rest = text.substr(static_cast<std::size_t>(used));
    long millis = 0;
    if (rest.starts_with(".")) {
        rest.remove_prefix(1);
        int digits = 0;
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            if (digits < 3)
                millis = millis * 10 + (rest.front() - '0');
            ++digits;
            rest.remove_prefix(1);
        }
        for (; digits < 3; ++digits)
            millis *= 10;
    }
    long offset = 0;
    if (rest == "Z") {
        offset = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        const long hours = (rest[1] - '0') * 10 + (rest[2] - '0');
        const long minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
        offset = (rest[0] == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
    } else {
        return std::nullopt;
    }
    std::tm utc{};
    utc.tm_year = year - 1900;
    utc.tm_mon = month - 1;
    utc.tm_mday = day;
    utc.tm_hour = hour;
    utc.tm_min = minute;
    utc.tm_sec = second;
    const std::time_t seconds = timegm(&utc) - offset;
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds) +
                                                 std::chrono::milliseconds(millis));
}

} // namespace

Rooms::Rooms(xmpp::StanzaDispatcher& stanzas, Logger& logger) : stanzas_(stanzas), logger_(logger) {}

void Rooms::join(const std::string& room, Seat& seat) {
    xmpp::XmlNode presence("presence");
    presence.set_attribute("from", seat.occupant);
    presence.set_attribute("to", room + "/" + seat.nick);
    // A connector's seat that has bridged this room before asks for what was said since (it may have been
    // away); every other seat only speaks, and a first join does not replay the past.
    xmpp::XmlNode& history = presence.add_child("x", std::string(muc_ns)).add_child("history");
    const auto mark = marks_.find({room, seat.occupant});
    seat.catch_up_after.clear();
    if (mark != marks_.end() && !mark->second.archive_id.empty()) {
        history.set_attribute("maxstanzas", "0"); // the archive gives all of it, once joined
        seat.catch_up_after = mark->second.archive_id;
    } else if (mark != marks_.end()) {
        history.set_attribute("since", xep0082(mark->second.second));
    } else {
        history.set_attribute("maxstanzas", "0");
    }
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
    if (fresh || seat.wanted != nick) {
        seat.room = room;
        seat.occupant = occupant;
        seat.wanted = nick;
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

void Rooms::set_mark(const std::string& room, const std::string& connector_seat, Mark mark) {
    marks_[{room, connector_seat}] = std::move(mark);
}

void Rooms::query_archive(const std::string& room, const std::string& occupant, const std::string& after,
                          const std::string& start) {
    const std::string id = std::string(mam_query_prefix) + std::to_string(++queries_);
    xmpp::XmlNode iq("iq");
    iq.set_attribute("type", "set");
    iq.set_attribute("id", id);
    iq.set_attribute("from", occupant);
    iq.set_attribute("to", room);
    xmpp::XmlNode& query = iq.add_child("query", std::string(mam_ns));
    query.set_attribute("queryid", id);
    if (!start.empty()) {
        xmpp::XmlNode& form = query.add_child("x", "jabber:x:data");
        form.set_attribute("type", "submit");
        xmpp::XmlNode& type = form.add_child("field");
        type.set_attribute("var", "FORM_TYPE").set_attribute("type", "hidden");
        type.add_child("value").set_text(std::string(mam_ns));
        xmpp::XmlNode& from = form.add_child("field");
        from.set_attribute("var", "start");
        from.add_child("value").set_text(start);
    }
    xmpp::XmlNode& set = query.add_child("set", std::string(rsm_ns));
    set.add_child("max").set_text(std::string(archive_page_size));
    if (!after.empty())
        set.add_child("after").set_text(after);
    stanzas_.send(iq);
}

void Rooms::finish_catch_up(const std::string& room, const std::string& occupant) {
    const auto found = catching_up_.find({room, occupant});
    if (found == catching_up_.end())
        return;
    const CatchUp done = std::move(found->second);
    catching_up_.erase(found);
    if (done.live_seen)
        pass_on(room, occupant, done.live_when, done.live_nick, done.live_body, false, done.live_id);
}

bool Rooms::handle_archive(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    const std::string room = in.from.bare_string();
    const std::string occupant = in.to.full();
    const auto catch_up = catching_up_.find({room, occupant});
    if (stanza.name() == "iq") {
        if (catch_up == catching_up_.end())
            return true; // an answer to a catch-up given up on (the stream reconnected meanwhile)
        CatchUp& state = catch_up->second;
        const std::string_view type = stanza.attribute("type");
        const auto mark = marks_.find({room, occupant});
        if (type == "error") {
            if (state.start.empty() && mark != marks_.end()) {
                // The room does not know the id (expired from its archive?): ask by time instead.
                state.start = xep0082(mark->second.second);
                state.pages = 0;
                logger_.info("rooms: " + room + " did not find the last message Ferry bridged (" +
                             xmpp::error_condition(stanza) + "); asking its archive from " + state.start);
                query_archive(room, occupant, {}, state.start);
                return true;
            }
            // The room keeps no archive (any more): the next join asks for its history instead.
            if (mark != marks_.end())
                mark->second.archive_id.clear();
            logger_.warning("rooms: " + room + " did not give its archive (" + xmpp::error_condition(stanza) +
                            "); what was said there while Ferry was away may be missing");
            finish_catch_up(room, occupant);
            return true;
        }
        const xmpp::XmlNode* fin = stanza.child("fin", mam_ns);
        if (type != "result" || fin == nullptr)
            return true;
        const xmpp::XmlNode* set = fin->child("set", rsm_ns);
        const xmpp::XmlNode* last = set == nullptr ? nullptr : set->child("last", rsm_ns);
        const bool more = fin->attribute("complete") != "true" && last != nullptr && !last->text().empty();
        if (more && ++state.pages < max_archive_pages) {
            query_archive(room, occupant, last->text(), state.start);
            return true;
        }
        if (more)
            logger_.warning("rooms: stopped reading " + room + "'s archive after " +
                            std::to_string(state.pages) +
                            " pages; older messages of the outage are not bridged");
        else
            logger_.info("rooms: caught up with " + room + " from its archive");
        finish_catch_up(room, occupant);
        return true;
    }
    const xmpp::XmlNode* result = stanza.child("result", mam_ns);
    const xmpp::XmlNode* forwarded = result->child("forwarded", "urn:xmpp:forward:0");
    const xmpp::XmlNode* original = forwarded == nullptr ? nullptr : forwarded->child("message");
    if (original == nullptr || original->child("body") == nullptr)
        return true;
    const auto from = xmpp::Jid::parse(original->attribute("from"));
    if (!from || from->bare_string() != room || from->resource().empty() ||
        own_nick(room, from->resource(), occupant))
        return true;
    auto when = Clock::now();
    if (const xmpp::XmlNode* delay = forwarded->child("delay", "urn:xmpp:delay"))
        if (const auto stamp = parse_xep0082(delay->attribute("stamp")))
            when = *stamp;
    // The archive's id is the room's stanza-id; it names the message for the dedup of live copies.
    xmpp::XmlNode message = original->clone();
    const std::string archive_id(result->attribute("id"));
    if (room_stanza_id(message, room).empty() && !archive_id.empty())
        message.add_child("stanza-id", std::string(sid_ns))
            .set_attribute("by", room)
            .set_attribute("id", archive_id);
    // Asked by time, the first second may hold messages bridged before: the mark's digests tell them.
    const bool by_time = catch_up != catching_up_.end() && !catch_up->second.start.empty();
    const bool news =
        pass_on(room, occupant, when, from->resource(), original->child("body")->text(), by_time, archive_id);
    if (on_archived_ && (news || !by_time))
        on_archived_(xmpp::InboundStanza{message, *from, in.to});
    return true;
}

bool Rooms::pass_on(const std::string& room, const std::string& seat, Clock::time_point when,
                    const std::string& nick, const std::string& body, bool replayed,
                    const std::string& archive_id) {
    const auto second = std::chrono::floor<std::chrono::seconds>(when);
    const auto found = marks_.find({room, seat});
    if (replayed && found == marks_.end())
        return false; // history Ferry did not ask for (a first join asks for none)
    Mark& mark = marks_[{room, seat}];
    const std::string key = hmac_sha256_hex(room, nick + "\n" + body).substr(0, 16);
    if (second < mark.second || (second == mark.second && mark.keys.contains(key)))
        return !replayed; // a live message is always news (clocks may disagree); old history is not
    if (second > mark.second) {
        mark.second = second;
        mark.keys.clear();
    }
    mark.keys.insert(key);
    if (!archive_id.empty())
        mark.archive_id = archive_id;
    if (on_mark_)
        on_mark_(room, seat, mark);
    return true;
}

bool Rooms::own_nick(const std::string& room, const std::string& nick,
                     const std::string& connector_seat) const {
    for (auto it = seats_.lower_bound({room, std::string()}); it != seats_.end() && it->first.first == room;
         ++it)
        if (it->second.nick == nick && connector_seat_of(it->second.occupant) == connector_seat)
            return true;
    // A remote sender's seat that has not spoken since the restart is not among the seats yet; its nick says
    // whose it is: `<name> (<connector>)`.
    const std::string connector = xmpp::unescape_node(connector_seat.substr(0, connector_seat.find('@')));
    return nick.ends_with(" (" + connector + ")");
}

std::string Rooms::occupant_named(const std::string& room, const std::string& nick) const {
    for (auto it = seats_.lower_bound({room, std::string()}); it != seats_.end() && it->first.first == room;
         ++it)
        if (it->second.state == State::joined && (it->second.wanted == nick || it->second.nick == nick))
            return it->second.occupant;
    return {};
}

bool Rooms::handle(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    const std::string room = in.from.bare_string();
    const std::string occupant = in.to.full();
    const bool archive_answer =
        (stanza.name() == "message" && stanza.child("result", mam_ns) != nullptr &&
         in.from.resource().empty()) ||
        (stanza.name() == "iq" && stanza.attribute("id").starts_with(mam_query_prefix) &&
         (stanza.attribute("type") == "result" || stanza.attribute("type") == "error"));
    if (archive_answer)
        return handle_archive(in);
    if (stanza.name() == "message" && stanza.attribute("type") == "groupchat")
        return handle_groupchat(in, room, occupant);
    return handle_presence(in, room, occupant);
}

bool Rooms::handle_groupchat(const xmpp::InboundStanza& in, const std::string& room,
                             const std::string& occupant) {
    const xmpp::XmlNode& stanza = in.node;
    // What the room says reaches every seat of ours: only a connector's own seat passes it on, and only
    // what did not come from that connector's seats (our own reflections).
    const bool connector_seat = in.to.resource() == "ferry" && connector_seat_of(occupant) == occupant;
    if (!connector_seat || in.from.resource().empty())
        return true;
    if (own_nick(room, in.from.resource(), occupant)) {
        // Our own message, back from the room with the id the room gave it, which replies there name.
        const std::string room_id = room_stanza_id(stanza, room);
        if (on_reflected_ && !room_id.empty()) {
            const xmpp::XmlNode* origin = stanza.child("origin-id", sid_ns);
            const std::string own_id(origin != nullptr ? origin->attribute("id") : stanza.attribute("id"));
            if (!own_id.empty())
                on_reflected_(room, occupant, in.from.resource(), own_id, room_id);
        }
        return true;
    }
    const xmpp::XmlNode* body = stanza.child("body");
    if (body == nullptr)
        return stanza.child("retract", "urn:xmpp:message-retract:1") == nullptr &&
               stanza.child("apply-to", "urn:xmpp:fasten:0") == nullptr;
    // Live, or history replayed after a join (then only what the mark does not cover is new).
    auto when = Clock::now();
    const xmpp::XmlNode* delay = stanza.child("delay", "urn:xmpp:delay");
    if (delay != nullptr) {
        const auto stamp = parse_xep0082(delay->attribute("stamp"));
        if (!stamp)
            return true;
        when = *stamp;
    }
    if (const auto catch_up = catching_up_.find({room, occupant});
        catch_up != catching_up_.end() && delay == nullptr) {
        // Bridged now; it moves the mark once the archive has been read.
        CatchUp& state = catch_up->second;
        state.live_seen = true;
        state.live_when = when;
        state.live_nick = in.from.resource();
        state.live_body = body->text();
        state.live_id = room_stanza_id(stanza, room);
        return false;
    }
    if (!pass_on(room, occupant, when, in.from.resource(), stanza.child("body")->text(), delay != nullptr,
                 room_stanza_id(stanza, room)))
        return true;
    return false;
}

bool Rooms::handle_presence(const xmpp::InboundStanza& in, const std::string& room,
                            const std::string& occupant) {
    const xmpp::XmlNode& stanza = in.node;
    const auto found = seats_.find({room, occupant});
    if (found == seats_.end() || stanza.name() != "presence")
        return false;
    Seat& seat = found->second;
    const std::string_view type = stanza.attribute("type");
    if (type == "error") {
        if (xmpp::error_condition(stanza) == "conflict" && seat.nick == seat.wanted) {
            // Display names are not unique (two Johns in one workspace): the second takes a variant of its
            // own.
            seat.nick = nick_variant(seat.wanted, seat.occupant);
            logger_.info("rooms: " + room + ": the nick " + seat.wanted + " is taken; joining as " +
                         seat.nick);
            join(room, seat);
            return true;
        }
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
            if (!seat.catch_up_after.empty()) {
                logger_.info("rooms: asking " + room + "'s archive for what was said after " +
                             seat.catch_up_after);
                catching_up_[{room, seat.occupant}] = CatchUp{};
                query_archive(room, seat.occupant, seat.catch_up_after, {});
                seat.catch_up_after.clear();
            }
        }
    }
    return true; // other occupants' presence: nothing to do
}

} // namespace ferry::core
