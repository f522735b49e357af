#include "bridge/core/xmpp_delivery.hpp"

#include "bridge/core/rooms.hpp"
#include "bridge/core/router.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/store/message_map.hpp"
#include "bridge/text/utf8.hpp"
#include "bridge/xmpp/delivery_ticket.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/namespaces.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/stringprep.hpp"
#include "bridge/xmpp/xml_node.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <variant>

namespace ferry::core {

namespace asio = boost::asio;
using core::DeliveryResult;
using store::MessageMapKey;
namespace message_map = store::message_map;

/// The mapping a row for XMPP came from (its inbound conversation).
const store::Mapping* mapping_of(const store::MappingSnapshot& snapshot, const std::string& conversation) {
    const std::optional<std::int64_t> id = store::inbound_conversation_mapping(conversation);
    return id ? snapshot.mapping(*id) : nullptr;
}

namespace {

constexpr std::size_t longest_name = 100; ///< bytes of a remote name shown in XMPP (nick, XEP-0172)

/// A remote name as XMPP shows it: whitespace around it cut, at most longest_name bytes.
std::string shown_name(std::string_view name) {
    const std::string_view whitespace = " \t\r\n";
    name.remove_prefix(std::min(name.size(), name.find_first_not_of(whitespace)));
    name.remove_suffix(name.size() - (name.find_last_not_of(whitespace) + 1));
    const std::string_view kept = text::utf8_prefix(name, longest_name);
    return kept.size() < name.size() ? std::string(kept) + "\u2026" : std::string(kept);
}

/// The nick of a remote sender's seat in a room: `<name> (<connector>)`, as long as the servers accept it as
/// a resource; a right-to-left name cannot be mixed with the Latin suffix and goes alone; a name they refuse
/// (prohibited characters) becomes a stand-in that still ends in ` (<connector>)`.
std::string sender_nick(std::string_view name, std::string_view connector) {
    const std::string shown = shown_name(name);
    const std::string suffix = " (" + std::string(connector) + ")";
    for (const std::string& nick : {shown + suffix, shown})
        if (!shown.empty() && xmpp::resourceprep(nick))
            return nick;
    return "~" + hmac_sha256_hex("ferry remote name", name).substr(0, 8) + suffix;
}

} // namespace

std::string connector_seat(std::string_view connector, std::string_view domain) {
    return xmpp::escape_node(connector) + "@" + std::string(domain) + "/ferry";
}

std::string seat_nick(const store::Mapping& mapping) {
    const auto nick = mapping.options.find("nick");
    if (nick != mapping.options.end() && nick->is_string() && !nick->get<std::string>().empty())
        return nick->get<std::string>();
    return mapping.connector_name;
}

bool option_on(const nlohmann::json& options, const char* name) {
    const auto found = options.find(name);
    if (found == options.end() || !found->is_string())
        return false;
    const std::string value = found->get<std::string>();
    return value == "yes" || value == "true" || value == "1";
}

bool maps_room(const store::Mapping& mapping) {
    return option_on(mapping.options, "room");
}

XmppDelivery::XmppDelivery(asio::any_io_executor executor, xmpp::StanzaDispatcher& stanzas,
                           const store::MappingStore& store, pg::Pool& pool, Rooms& rooms,
                           std::function<bool()> online, XmppDeliverySettings settings)
    : executor_(std::move(executor)), stanzas_(stanzas), store_(store), pool_(pool), rooms_(rooms),
      online_(std::move(online)), max_stanza_size_(settings.max_stanza_size),
      confirm_timeout_(settings.confirm_timeout) {}

std::variant<XmppDelivery::Addressing, DeliveryResult>
XmppDelivery::address_for(const core::Delivery& delivery, const store::Mapping* mapping) {
    if (!online_())
        return DeliveryResult::retry("the XMPP server is not connected");
    const auto to = xmpp::Jid::parse_or_reason(delivery.destination);
    if (const auto* reason = std::get_if<std::string>(&to))
        return DeliveryResult::failed("invalid XMPP address " + delivery.destination + ": " + *reason);
    const core::Message& m = delivery.message;
    Addressing address;
    const std::optional<std::string> sender =
        m.from.empty() ? std::nullopt : exact_remote_jid(m.from, m.source, stanzas_.domain());
    address.from = m.from.empty() ? xmpp::escape_node(m.source) + "@" + stanzas_.domain()
                                  : remote_jid(m.from, m.source, stanzas_.domain());
    address.to = std::get<xmpp::Jid>(to).full();
    address.author = address.from;
    // A sender that no JID can carry speaks under a stand-in address: its name tells who it is.
    address.nick = shown_name(!m.sender_name.empty() || sender ? m.sender_name : m.from);
    if (mapping != nullptr && option_on(mapping->options, "room")) {
        const std::string room = std::get<xmpp::Jid>(to).bare_string();
        // A remote person speaks through a seat of their own (`alice (chat)`); alerts and anonymous hooks
        // through the connector's seat with the mapping's nick.
        std::string occupant;
        std::string nick;
        if (!m.from.empty()) {
            occupant = address.from + "/ferry";
            nick = sender_nick(m.sender_name.empty() ? m.from : m.sender_name, m.source);
        } else {
            occupant = connector_seat(m.source, stanzas_.domain());
            nick = seat_nick(*mapping);
        }
        address.from = occupant;
        address.to = room;
        address.type = "groupchat";
        address.author = room + "/" + nick;
    }
    return address;
}

std::optional<DeliveryResult> XmppDelivery::unseated(const Addressing& address) {
    if (address.type != "groupchat")
        return std::nullopt;
    if (rooms_.seated(address.to, address.from, address.author.substr(address.to.size() + 1)))
        return std::nullopt;
    const std::string why = rooms_.failure(address.to);
    return DeliveryResult::retry("not in room " + address.to + " yet" + (why.empty() ? "" : ": " + why),
                                 std::chrono::seconds(1));
}

bool XmppDelivery::speaks_for(const Addressing& address, const std::string& author,
                              const std::string& connector) const {
    if (address.type == "groupchat")
        return rooms_.own_nick(address.to, author.substr(address.to.size() + 1),
                               connector_seat(connector, stanzas_.domain()));
    const auto jid = xmpp::Jid::parse(author);
    const auto remote =
        jid && jid->domain() == stanzas_.domain() ? split_remote_local(jid->local()) : std::nullopt;
    return remote && remote->second == connector;
}

std::optional<XmppDelivery::Addressing> XmppDelivery::as_author(const Addressing& address,
                                                                const std::string& author) const {
    Addressing as = address;
    as.author = author;
    as.from = address.type == "groupchat"
                  ? rooms_.occupant_named(address.to, author.substr(address.to.size() + 1))
                  : author;
    if (as.from.empty())
        return std::nullopt;
    return as;
}

asio::awaitable<DeliveryResult> XmppDelivery::send(const core::Delivery& delivery) {
    std::vector<const core::Delivery*> one{&delivery};
    std::vector<DeliveryResult> results = co_await send_batch(std::move(one));
    if (results.empty()) // it named a row of its batch: impossible alone, but never a silent success
        co_return DeliveryResult::retry("not attempted");
    co_return std::move(results.front());
}

asio::awaitable<DeliveryResult> XmppDelivery::write(const core::Delivery& delivery, const Ticket& ticket) {
    const auto snapshot = store_.snapshot();
    const store::Mapping* mapping = mapping_of(*snapshot, delivery.conversation);
    auto addressed = address_for(delivery, mapping);
    if (auto* refused = std::get_if<DeliveryResult>(&addressed))
        co_return std::move(*refused);
    const Addressing address = std::get<Addressing>(addressed);
    const core::Message& m = delivery.message;
    if (mapping != nullptr && said_in_channel(m))
        co_return co_await send_service_message(delivery, *mapping, address, ticket);
    if (auto wait = unseated(address))
        co_return std::move(*wait);

    if (mapping != nullptr && (m.kind == "alert" || m.kind == "alert-resolved"))
        co_return co_await send_alert(delivery, *mapping, address, ticket);
    xmpp::XmlNode stanza = message_stanza(address, delivery.idempotency_key, m, m.text, std::nullopt);
    if (!m.thread.empty())
        stanza.add_child("thread").set_text(m.thread);
    if (m.kind == "reply" && !m.refers_to.empty()) // to the XMPP user's own message (XEP-0461)
        stanza.add_child("reply", "urn:xmpp:reply:0")
            .set_attribute("to", address.to)
            .set_attribute("id", m.refers_to);
    emit(std::move(stanza), ticket);
    co_return DeliveryResult::delivered(delivery.idempotency_key);
}

namespace {

/// `text` cut into parts whose XML-escaped size is at most `budget` bytes each, between characters, at a line
/// break where one falls in the second half of a part.
std::vector<std::string> split_text(const std::string& text, std::size_t budget) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t at = start;
        std::size_t used = 0;
        std::size_t last_break = std::string::npos;
        while (at < text.size()) {
            std::size_t next = at;
            if (!text::decode_utf8(text, next))
                next = at + 1;
            const std::size_t cost = xmpp::escape_xml(std::string_view(text).substr(at, next - at)).size();
            if (used + cost > budget)
                break;
            used += cost;
            if (text[at] == '\n' && used > budget / 2)
                last_break = next;
            at = next;
        }
        const std::size_t end = at < text.size() && last_break != std::string::npos ? last_break : at;
        parts.push_back(text.substr(start, end - start));
        start = end;
    }
    if (parts.empty())
        parts.emplace_back();
    return parts;
}

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t end = std::min(text.find(' ', at), text.size());
        if (end > at)
            out.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

} // namespace

asio::awaitable<DeliveryResult> XmppDelivery::send_alert(const core::Delivery& delivery,
                                                         const store::Mapping& mapping,
                                                         const Addressing& address, const Ticket& ticket) {
    const core::Message& m = delivery.message;
    const std::string& key = delivery.idempotency_key;
    const std::string group =
        m.thread.empty() ? std::string() : message_map::alert_group(delivery.destination, m.thread);
    const std::vector<std::string> firing = words(m.firing);
    const std::vector<std::string> resolved = words(m.resolved);

    // The messages to correct: those that announced the alerts now resolved (by fingerprint; notifications
    // without fingerprints by their group's last message).
    std::vector<std::string> to_correct;
    bool announces_new = false;
    bool unavailable = false;
    try {
        if (!firing.empty() && resolved.empty()) {
            announces_new = true; // nothing to correct: no need to ask which were announced before
        } else if (firing.empty() && resolved.empty()) {
            if (m.kind == "alert-resolved" && !group.empty())
                if (auto id = co_await message_map::latest(
                        pool_,
                        message_map::posted(message_map::connector_system(mapping.connector_id), group)))
                    to_correct.push_back(std::move(*id));
        } else {
            std::vector<std::string> all = firing;
            all.insert(all.end(), resolved.begin(), resolved.end());
            const auto announced = co_await message_map::announced_alerts(pool_, mapping.connector_id,
                                                                          delivery.destination, all);
            for (const std::string& fingerprint : resolved) {
                const auto found = announced.find(fingerprint);
                if (found != announced.end() &&
                    std::ranges::find(to_correct, found->second) == to_correct.end())
                    to_correct.push_back(found->second);
            }
            announces_new = std::ranges::any_of(
                firing, [&](const std::string& fingerprint) { return !announced.contains(fingerprint); });
        }
    } catch (const pg::Error&) {
        unavailable = true;
    }
    if (unavailable)
        co_return DeliveryResult::retry("cannot look up the alerts' earlier messages in message_map");

    // Reminders (nothing resolved) and news go out as a message of their own, recorded with the delivery
    // (a resend after a crash repeats the same stanza id, which receivers drop).
    const bool post = to_correct.empty() || announces_new;
    for (std::size_t i = 0; i < to_correct.size(); ++i)
        emit(message_stanza(address, i == 0 && !post ? key : key + "-c" + std::to_string(i), m, m.text,
                            to_correct[i]),
             ticket);
    if (!to_correct.empty()) {
        const std::string line = m.resolution.empty() ? m.text.substr(0, m.text.find('\n')) : m.resolution;
        emit(message_stanza(address, key + "-line", m, line, std::nullopt), ticket);
    }
    if (!post)
        co_return DeliveryResult::delivered(); // the group's last message is still the one announcing it
    emit(message_stanza(address, key, m, m.text, std::nullopt), ticket);
    DeliveryResult result = DeliveryResult::delivered(key, group);
    result.also_recorded_under = message_map::alert_conversations(delivery.destination, firing);
    co_return result;
}

asio::awaitable<DeliveryResult> XmppDelivery::send_service_message(const core::Delivery& delivery,
                                                                   const store::Mapping& mapping,
                                                                   const Addressing& address,
                                                                   const Ticket& ticket) {
    const std::string retract_ns = "urn:xmpp:message-retract:1";
    const core::Message& m = delivery.message;
    std::optional<message_map::XmppCounterpart> original;
    if (!m.refers_to.empty()) {
        bool unavailable = false;
        try {
            original = co_await message_map::xmpp_counterpart(
                pool_, mapping.connector_id, m.refers_to, delivery.conversation, m.channel,
                store::outbound_conversation(mapping.id), m.kind == "edit");
        } catch (const pg::Error&) {
            unavailable = true;
        }
        if (unavailable)
            co_return DeliveryResult::retry("cannot look up the message this one refers to in message_map");
    }
    if (m.kind == "retraction" && !original)   // never bridged (said before the mapping, a reaction, a state
        co_return DeliveryResult::delivered(); // event): nothing to take back
    // XMPP clients honour a retraction only from the message's author (XEP-0424): one a moderator made on the
    // service goes out as the author's, when that is one of Ferry's senders.
    Addressing as = address;
    if (m.kind == "retraction" && original->author != address.author) {
        // Only what came from this service is taken back: a message written in XMPP (or on another service)
        // stays where it was written.
        if (!speaks_for(address, original->author, m.source))
            co_return DeliveryResult::delivered();
        auto author = as_author(address, original->author);
        if (!author)
            co_return DeliveryResult::failed(
                original->author + "'s seat is not in the room now, and XMPP clients accept a retraction "
                                   "only from the author: not retracted in XMPP");
        as = std::move(*author);
    }
    if (auto wait = unseated(as))
        co_return std::move(*wait);
    const std::string& id = delivery.idempotency_key;
    if (m.kind == "edit") {
        // XEP-0308 where the original was bridged; otherwise the new text, marked, as a message of its own.
        const std::string text = original ? m.text : "(correction) " + m.text;
        emit(message_stanza(address, id, m, text,
                            original ? std::optional<std::string>(original->id) : std::nullopt),
             ticket);
        co_return DeliveryResult::delivered();
    }
    if (m.kind == "retraction") {
        const std::string who = m.sender_name.empty() ? m.from : m.sender_name;
        xmpp::XmlNode stanza = message_stanza(
            as, id, m, who + " retracted a message; your client does not show retractions", std::nullopt);
        stanza.add_child("retract", retract_ns).set_attribute("id", original->id);
        stanza.add_child("fallback", "urn:xmpp:fallback:0").set_attribute("for", retract_ns);
        stanza.add_child("store", "urn:xmpp:hints");
        emit(std::move(stanza), ticket);
        co_return DeliveryResult::delivered();
    }
    xmpp::XmlNode stanza = message_stanza(address, id, m, m.text, std::nullopt);
    if (m.kind == "reply" && original)
        stanza.add_child("reply", "urn:xmpp:reply:0").set_attribute("id", original->id);
    emit(std::move(stanza), ticket);
    // Recorded as XMPP's id of this message, so that an XMPP reply naming it becomes a reply on the service.
    const MessageMapKey said =
        message_map::xmpp_said(store::outbound_conversation(mapping.id), address.author);
    DeliveryResult result = DeliveryResult::delivered(id, said.conversation);
    result.remote_system = said.system;
    co_return result;
}

static long option_number(const nlohmann::json& options, const char* name, long fallback, long min,
                          long max) {
    const auto found = options.find(name);
    if (found == options.end() || !found->is_string())
        return fallback;
    try {
        const long value = std::stol(found->get<std::string>());
        return value >= min && value <= max ? value : fallback;
    } catch (const std::exception&) {
        return fallback;
    }
}

namespace {

/// The first row that names an earlier row of the same batch (a service's edit, deletion or reply of a
/// message, an alert's resolution): message_map learns the earlier one only once the batch is recorded, so
/// that row waits for the next round. deliveries.size() when none does.
std::size_t first_dependent(const std::vector<const core::Delivery*>& deliveries) {
    std::set<std::string> ids;
    std::set<std::string> announced;
    for (std::size_t i = 0; i < deliveries.size(); ++i) {
        const core::Message& m = deliveries[i]->message;
        if (!m.refers_to.empty() && ids.contains(m.refers_to))
            return i;
        for (const std::string& fingerprint : words(m.resolved))
            if (announced.contains(fingerprint))
                return i;
        if (!m.source_id.empty())
            ids.insert(m.source_id);
        for (std::string& fingerprint : words(m.firing))
            announced.insert(std::move(fingerprint));
    }
    return deliveries.size();
}

} // namespace

asio::awaitable<std::vector<DeliveryResult>>
XmppDelivery::send_batch(std::vector<const core::Delivery*> deliveries) {
    std::vector<Sent> sent = co_await write_batch(std::move(deliveries));
    co_await confirm(sent);
    std::vector<DeliveryResult> results;
    results.reserve(sent.size());
    for (Sent& one : sent)
        results.push_back(std::move(one.result));
    co_return results;
}

asio::awaitable<std::vector<XmppDelivery::Sent>>
XmppDelivery::write_batch(std::vector<const core::Delivery*> deliveries) {
    std::vector<Sent> results;
    deliveries.resize(first_dependent(deliveries));
    if (deliveries.empty())
        co_return results;
    const auto snapshot = store_.snapshot();
    const store::Mapping* mapping = mapping_of(*snapshot, deliveries.front()->conversation);
    const auto is_alert = [](const core::Delivery* d) {
        return d->message.kind == "alert" || d->message.kind == "alert-resolved";
    };
    // Storm control: at most `alert_rate` messages per `alert_window` seconds to one mapping; what waits
    // beyond that goes out as one digest when the window has room again. `alert_rate=0` turns it off.
    const long limit = mapping == nullptr ? 0 : option_number(mapping->options, "alert_rate", 5, 0, 1000);
    if (mapping == nullptr || !is_alert(deliveries.front()) || limit == 0)
        co_return co_await write_each(std::move(deliveries));

    const auto window = std::chrono::seconds(option_number(mapping->options, "alert_window", 60, 1, 86400));
    auto& sent = recent_alerts_[mapping->id];
    const auto now = std::chrono::steady_clock::now();
    while (!sent.empty() && now - sent.front() >= window)
        sent.pop_front();
    const long room_left = limit - static_cast<long>(sent.size());
    if (room_left <= 0) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(sent.front() + window - now);
        results.push_back(
            {deliveries.front(),
             DeliveryResult::retry("alert rate limit of " + std::to_string(limit) + " per " +
                                       std::to_string(window.count()) + " s reached; a digest follows",
                                   std::max(wait, std::chrono::milliseconds(100))),
             nullptr});
        co_return results;
    }
    std::size_t alerts = 0;
    while (alerts < deliveries.size() && is_alert(deliveries[alerts]))
        ++alerts;
    const std::size_t alone =
        alerts <= static_cast<std::size_t>(room_left) ? alerts : static_cast<std::size_t>(room_left - 1);
    for (std::size_t i = 0; i < alone; ++i) {
        auto ticket = std::make_shared<xmpp::DeliveryTicket>(executor_);
        DeliveryResult result = co_await write(*deliveries[i], ticket);
        const bool stop = result.outcome == DeliveryResult::Outcome::retry;
        if (result.outcome == DeliveryResult::Outcome::delivered)
            sent.push_back(now);
        results.push_back({deliveries[i], std::move(result), std::move(ticket)});
        if (stop)
            co_return results;
    }
    if (alone == alerts)
        co_return results;

    std::vector<const core::Delivery*> burst(deliveries.begin() + static_cast<long>(alone),
                                             deliveries.begin() + static_cast<long>(alerts));
    std::vector<Sent> digest = co_await write_digest(std::move(burst), *mapping, limit, window);
    results.insert(results.end(), std::make_move_iterator(digest.begin()),
                   std::make_move_iterator(digest.end()));
    co_return results;
}

asio::awaitable<std::vector<XmppDelivery::Sent>>
XmppDelivery::write_each(std::vector<const core::Delivery*> deliveries) {
    std::vector<Sent> results;
    for (const core::Delivery* delivery : deliveries) {
        auto ticket = std::make_shared<xmpp::DeliveryTicket>(executor_);
        DeliveryResult result = co_await write(*delivery, ticket);
        const bool stop = result.outcome == DeliveryResult::Outcome::retry;
        results.push_back({delivery, std::move(result), std::move(ticket)});
        if (stop)
            break;
    }
    co_return results;
}

asio::awaitable<std::vector<XmppDelivery::Sent>>
XmppDelivery::write_digest(std::vector<const core::Delivery*> burst, const store::Mapping& mapping,
                           long limit, std::chrono::seconds window) {
    // The burst as one digest: the first lines of the first few, and how many more.
    std::vector<Sent> results;
    auto addressed = address_for(*burst.front(), &mapping);
    if (auto* refused = std::get_if<DeliveryResult>(&addressed)) {
        results.push_back({burst.front(), std::move(*refused), nullptr});
        co_return results;
    }
    if (auto wait = unseated(std::get<Addressing>(addressed))) {
        results.push_back({burst.front(), std::move(*wait), nullptr});
        co_return results;
    }
    constexpr std::size_t shown = 3;
    std::string text = "[DIGEST] " + std::to_string(burst.size()) +
                       " alert notifications in a burst (at most " + std::to_string(limit) +
                       " messages per " + std::to_string(window.count()) + " s here)";
    for (std::size_t i = 0; i < burst.size() && i < shown; ++i) {
        const std::string& body = burst[i]->message.text;
        text += "\n• " + body.substr(0, body.find('\n'));
    }
    if (burst.size() > shown)
        text += "\n+" + std::to_string(burst.size() - shown) + " more";
    const std::string id = burst.front()->idempotency_key + "-digest";
    auto ticket = std::make_shared<xmpp::DeliveryTicket>(executor_);
    emit(message_stanza(std::get<Addressing>(addressed), id, burst.front()->message, text, std::nullopt),
         ticket);
    recent_alerts_[mapping.id].push_back(std::chrono::steady_clock::now());
    // Not recorded as announcing its alerts: correcting a digest with one group's resolution would wipe the
    // others' lines, so a resolution of a digested alert is a message of its own.
    for (const core::Delivery* delivery : burst)
        results.push_back({delivery, DeliveryResult::delivered(id), ticket});
    co_return results;
}

asio::awaitable<void> XmppDelivery::confirm(std::vector<Sent>& sent) {
    // The server answers one stream's barriers in order: waiting for each in turn costs one round trip in
    // all.
    const auto deadline = std::chrono::steady_clock::now() + confirm_timeout_;
    for (Sent& one : sent) {
        if (one.result.outcome != DeliveryResult::Outcome::delivered || !one.ticket)
            continue;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        co_await one.ticket->settled(std::max(left, std::chrono::milliseconds(0)));
        switch (one.ticket->state()) {
        case xmpp::DeliveryTicket::State::confirmed:
            break;
        case xmpp::DeliveryTicket::State::pending:
            one.result = DeliveryResult::retry("the XMPP server did not confirm the message within " +
                                               std::to_string(confirm_timeout_.count()) + " ms");
            break;
        case xmpp::DeliveryTicket::State::lost:
            // A message whose own stanza the server closed the stream over, time after time, is not tried
            // forever: it would take the stream down with the messages around it each time.
            if (one.ticket->suspect() && one.delivery->attempt >= max_stream_losses)
                one.result = DeliveryResult::failed(
                    "the XMPP server closed the stream each time this message "
                    "was sent (" +
                    std::to_string(one.delivery->attempt) + " attempts); last time: " + one.ticket->reason());
            else
                one.result = DeliveryResult::retry(one.ticket->reason());
            break;
        case xmpp::DeliveryTicket::State::refused:
            one.result = DeliveryResult::failed(one.ticket->reason());
            break;
        }
    }
}

void XmppDelivery::emit(xmpp::XmlNode stanza, const Ticket& ticket) {
    // A body that makes the stanza long goes out in parts: the first keeps the stanza's other elements
    // (correction, reply, retraction), the others carry the rest of the text. Long means over half the
    // server's limit: servers measure a stanza by the reads it arrives in, which may hold more than it.
    const std::size_t part_limit = max_stanza_size_ / 2;
    xmpp::XmlNode* body = stanza.child("body");
    const xmpp::XmlNode* subject = stanza.child("subject");
    const std::size_t text_size = (body ? body->text().size() : 0) + (subject ? subject->text().size() : 0);
    constexpr std::size_t worst_escape = 6; // '"' becomes &quot;
    if (body == nullptr || text_size * worst_escape + 16384 <= part_limit) {
        stanzas_.send(stanza, ticket);
        return;
    }
    const std::string whole = stanza.to_string(xmpp::ns::component);
    if (whole.size() <= part_limit) {
        stanzas_.send(stanza, ticket);
        return;
    }
    const std::size_t overhead = whole.size() - xmpp::escape_xml(body->text()).size();
    constexpr std::size_t margin = 256; // the part's id suffix and its own origin-id
    if (overhead + margin + 1024 > part_limit) {
        stanzas_.send(stanza, ticket); // not the text's fault: sent whole, or refused with the reason
        return;
    }
    const std::vector<std::string> parts = split_text(body->text(), part_limit - overhead - margin);
    const std::string id(stanza.attribute("id"));
    body->set_text(parts.front());
    stanzas_.send(stanza, ticket);
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const std::string part_id = id + "-part" + std::to_string(i + 1);
        xmpp::XmlNode part("message");
        for (const char* name : {"from", "to", "type"})
            part.set_attribute(name, std::string(stanza.attribute(name)));
        part.set_attribute("id", part_id);
        part.add_child("body").set_text(parts[i]);
        part.add_child("origin-id", "urn:xmpp:sid:0").set_attribute("id", part_id);
        stanzas_.send(part, ticket);
    }
}

xmpp::XmlNode XmppDelivery::message_stanza(const Addressing& address, const std::string& id,
                                           const core::Message& m, const std::string& body,
                                           const std::optional<std::string>& replaces) {
    xmpp::XmlNode stanza("message");
    stanza.set_attribute("from", address.from);
    stanza.set_attribute("to", address.to);
    stanza.set_attribute("type", address.type);
    stanza.set_attribute("id", id);
    if (!m.subject.empty())
        stanza.add_child("subject").set_text(m.subject);
    stanza.add_child("body").set_text(body);
    if (address.type == "chat" && !address.nick.empty()) // a room shows the name as the occupant's nick
        stanza.add_child("nick", "http://jabber.org/protocol/nick").set_text(address.nick);
    if (replaces)
        stanza.add_child("replace", "urn:xmpp:message-correct:0").set_attribute("id", *replaces);
    stanza.add_child("origin-id", "urn:xmpp:sid:0").set_attribute("id", id);
    return stanza;
}

} // namespace ferry::core
