#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::pg {
class Pool;
}

namespace ferry::store {

/// Where one id is recorded in message_map: the system it belongs to and the conversation it was said in.
/// Entries of one message share its outbox key (`message_key`), which is how an id in one system finds the
/// message's id in another. Every kind of entry is made by one function below; docs/schema.md lists them.
struct MessageMapKey {
    std::string system;
    std::string conversation;
};

namespace message_map {

/// The system of a connector's ids: its id, in decimal.
std::string connector_system(std::int64_t connector_id);
/// The system of XMPP's ids.
inline constexpr std::string_view xmpp_system = "xmpp";

/// A message written in XMPP (or what Ferry delivered there): its XMPP id, under the outbound conversation
/// of its mapping and its author (a room occupant "room/nick", or a bare JID): only the author may correct
/// or retract it.
MessageMapKey xmpp_said(std::string_view outbound_conversation, std::string_view author);
/// A message that came from a chat service: the service's id, per inbound conversation (one message may go to
/// several mappings) and channel.
MessageMapKey service_said(std::int64_t connector_id, std::string_view inbound_conversation,
                           std::string_view channel);
/// What Ferry posted to a service (or delivered to XMPP): the id it got there, in `system`, under the
/// delivery's destination or a conversation the delivery chose (an alert group).
MessageMapKey posted(std::string_view system, std::string_view conversation);
/// The first message of the thread a reply went into (a thread id such as a chat service's thread_ts), keyed
/// by the reply's own id, so that a reply to the reply goes into the same thread.
MessageMapKey thread_root(std::string_view system, std::string_view channel, std::string_view reply_id);
/// The message that announced an alert (by fingerprint) to a destination: its resolution corrects it.
MessageMapKey alert_announced(std::int64_t connector_id, std::string_view destination,
                              std::string_view fingerprint);
/// The conversations of alert_announced() for these fingerprints.
std::vector<std::string> alert_conversations(std::string_view destination,
                                             const std::vector<std::string>& fingerprints);
/// The conversation under which an alert group's last message is recorded.
std::string alert_group(std::string_view destination, std::string_view group);

/// The newest id recorded under `key`.
boost::asio::awaitable<std::optional<std::string>> latest(pg::Pool& pool, MessageMapKey key);

/// The ids of the messages that announced these alerts to `destination`, by fingerprint (those found).
boost::asio::awaitable<std::map<std::string, std::string>>
announced_alerts(pg::Pool& pool, std::int64_t connector_id, std::string destination,
                 std::vector<std::string> fingerprints);

/// What a service's message `service_id` became in XMPP: the XMPP id and the author it was said as.
struct XmppCounterpart {
    std::string id;
    std::string author;
};
/// Looks for a message from the service (said in `inbound_conversation`, `channel`) or one Ferry posted
/// there (under `channel`), and returns its XMPP side under the mapping's `outbound_conversation`. A
/// correction names the id Ferry sent (XEP-0308, `sent_id`); a reply or retraction in a room the id the room
/// gave it (XEP-0461, XEP-0424).
boost::asio::awaitable<std::optional<XmppCounterpart>>
xmpp_counterpart(pg::Pool& pool, std::int64_t connector_id, std::string service_id,
                 std::string inbound_conversation, std::string channel, std::string outbound_conversation,
                 bool sent_id);

/// What the XMPP message `xmpp_id`, said in `outbound_conversation` by `author` (empty: anyone), became on
/// the connector's service; with `thread_root`, the first message of the thread it went into when known.
boost::asio::awaitable<std::optional<std::string>>
service_counterpart(pg::Pool& pool, std::int64_t connector_id, std::string outbound_conversation,
                    std::string xmpp_id, std::string author, bool thread_root);

/// What became of an XMPP chat message (not a room's) Ferry delivered to a connector's service, found by its
/// outbox key.
struct DeliveredFromXmpp {
    std::string xmpp_id;   ///< the id its author gave it
    std::string author;    ///< its author's bare JID
    std::string posted_to; ///< the conversation it was posted under there (the delivery's destination)
    std::string posted_id; ///< the id it got there
};
/// nullopt when message_map does not (or no longer) know the message.
boost::asio::awaitable<std::optional<DeliveredFromXmpp>>
delivered_from_xmpp(pg::Pool& pool, std::int64_t connector_id, std::string message_key);

/// Records `native_id` for the message with outbox key `message_key` (kept when already there).
boost::asio::awaitable<void> record(pg::Pool& pool, std::string message_key, MessageMapKey key,
                                    std::string native_id);

/// Forgets entries older than `days`; returns how many.
boost::asio::awaitable<long> forget_older_than(pg::Pool& pool, int days);

} // namespace message_map
} // namespace ferry::store
