#include "bridge/store/message_map.hpp"

#include "bridge/pg/pool.hpp"

#include <nlohmann/json.hpp>

namespace ferry::store::message_map {

namespace asio = boost::asio;

namespace {

std::string joined(std::string_view first, std::string_view second) {
    std::string text(first);
    text += ' ';
    text += second;
    return text;
}

/// Where the alerts announced to `destination` are recorded: `<destination> alert ` + a fingerprint.
std::string alert_prefix(std::string_view destination) {
    return std::string(destination) += " alert ";
}

} // namespace

std::string connector_system(std::int64_t connector_id) {
    return std::to_string(connector_id);
}

MessageMapKey xmpp_said(std::string_view outbound_conversation, std::string_view author) {
    return {std::string(xmpp_system), joined(outbound_conversation, author)};
}

MessageMapKey service_said(std::int64_t connector_id, std::string_view inbound_conversation,
                           std::string_view channel) {
    return {connector_system(connector_id), joined(inbound_conversation, channel)};
}

MessageMapKey posted(std::string_view system, std::string_view conversation) {
    return {std::string(system), std::string(conversation)};
}

MessageMapKey thread_root(std::string_view system, std::string_view channel, std::string_view reply_id) {
    return {std::string(system) + " thread", joined(channel, reply_id)};
}

MessageMapKey alert_announced(std::int64_t connector_id, std::string_view destination,
                              std::string_view fingerprint) {
    return {connector_system(connector_id), alert_prefix(destination) += fingerprint};
}

std::vector<std::string> alert_conversations(std::string_view destination,
                                             const std::vector<std::string>& fingerprints) {
    std::vector<std::string> conversations;
    conversations.reserve(fingerprints.size());
    for (const std::string& fingerprint : fingerprints)
        conversations.push_back(alert_prefix(destination) += fingerprint);
    return conversations;
}

std::string alert_group(std::string_view destination, std::string_view group) {
    return joined(destination, group);
}

asio::awaitable<std::optional<std::string>> latest(pg::Pool& pool, MessageMapKey key) {
    pg::Lease lease = co_await pool.acquire();
    const pg::Result r = co_await lease->execute_cached(
        "SELECT native_id FROM message_map WHERE system = $1 AND conversation = $2 ORDER BY id DESC LIMIT 1",
        pg::params(std::move(key.system), std::move(key.conversation)));
    if (r.rows() == 0)
        co_return std::nullopt;
    co_return std::string(*r.get(0, 0));
}

asio::awaitable<std::map<std::string, std::string>> announced_alerts(pg::Pool& pool,
                                                                     std::int64_t connector_id,
                                                                     std::string destination,
                                                                     std::vector<std::string> fingerprints) {
    std::map<std::string, std::string> found;
    if (fingerprints.empty())
        co_return found;
    std::string prefix = alert_prefix(destination);
    pg::Lease lease = co_await pool.acquire();
    const pg::Result r = co_await lease->execute_cached(
        "SELECT DISTINCT ON (conversation) substr(conversation, length($2::text) + 1), native_id "
        "FROM message_map WHERE system = $1 AND conversation IN "
        "(SELECT $2::text || f FROM jsonb_array_elements_text($3::jsonb) f) ORDER BY conversation, id DESC",
        pg::params(connector_system(connector_id), std::move(prefix), nlohmann::json(fingerprints).dump()));
    for (int row = 0; row < r.rows(); ++row)
        found.emplace(std::string(*r.get(row, 0)), std::string(*r.get(row, 1)));
    co_return found;
}

asio::awaitable<std::optional<XmppCounterpart>>
xmpp_counterpart(pg::Pool& pool, std::int64_t connector_id, std::string service_id,
                 std::string inbound_conversation, std::string channel, std::string outbound_conversation,
                 bool sent_id) {
    // The service's id is under service_said() for what came from there, under posted() (the channel) for
    // what Ferry posted; the XMPP side under xmpp_said(), beside the same message key.
    std::string from_service = service_said(connector_id, inbound_conversation, channel).conversation;
    std::string authors = std::move(outbound_conversation) += ' ';
    pg::Lease lease = co_await pool.acquire();
    const pg::Result r = co_await lease->execute_cached(
        "SELECT x.native_id, substr(x.conversation, length($5::text) + 1) FROM message_map r JOIN "
        "message_map x ON x.message_key = r.message_key "
        "AND x.system = 'xmpp' AND left(x.conversation, length($5::text)) = $5::text "
        "WHERE r.system = $1 AND r.native_id = $2 AND r.conversation IN ($3, $4) "
        "ORDER BY r.id DESC, (x.native_id = x.message_key::text) <> $6::boolean, x.id DESC LIMIT 1",
        pg::params(connector_system(connector_id), std::move(service_id), std::move(from_service),
                   std::move(channel), std::move(authors), sent_id ? "true" : "false"));
    if (r.rows() == 0)
        co_return std::nullopt;
    co_return XmppCounterpart{std::string(*r.get(0, 0)), std::string(*r.get(0, 1))};
}

asio::awaitable<std::optional<std::string>> service_counterpart(pg::Pool& pool, std::int64_t connector_id,
                                                                std::string outbound_conversation,
                                                                std::string xmpp_id, std::string author,
                                                                bool thread_root) {
    // The XMPP side is under xmpp_said(); a thread's first message under thread_root()'s system.
    pg::Lease lease = co_await pool.acquire();
    const pg::Result found = co_await lease->execute_cached(
        "SELECT r.native_id FROM message_map s JOIN message_map r ON r.message_key = s.message_key "
        "AND (r.system = $1 OR ($5::boolean AND r.system = $1 || ' thread')) "
        "WHERE s.system = 'xmpp' AND s.native_id = $3 AND (s.conversation = "
        "$2::text || ' ' || $4::text OR ($4::text = '' AND "
        "left(s.conversation, length($2::text) + 1) = $2::text || ' ')) "
        "ORDER BY r.system = $1, r.id LIMIT 1",
        pg::params(connector_system(connector_id), std::move(outbound_conversation), std::move(xmpp_id),
                   std::move(author), thread_root ? "true" : "false"));
    if (found.rows() == 0)
        co_return std::nullopt;
    co_return std::string(*found.get(0, 0));
}

asio::awaitable<std::optional<DeliveredFromXmpp>>
delivered_from_xmpp(pg::Pool& pool, std::int64_t connector_id, std::string message_key) {
    // The XMPP side is under xmpp_said(): the delivery's conversation, a space, the author; a chat's author
    // is a bare JID, which has no space in it.
    pg::Lease lease = co_await pool.acquire();
    const pg::Result found = co_await lease->execute_cached(
        "SELECT x.native_id, x.conversation, p.conversation, p.native_id FROM message_map x "
        "JOIN message_map p ON p.message_key = x.message_key AND p.system = $2 "
        "WHERE x.message_key = $1::uuid AND x.system = 'xmpp' ORDER BY x.id LIMIT 1",
        pg::params(std::move(message_key), connector_system(connector_id)));
    if (found.rows() == 0)
        co_return std::nullopt;
    DeliveredFromXmpp delivered;
    delivered.xmpp_id = std::string(*found.get(0, 0));
    const std::string said(*found.get(0, 1));
    delivered.author = said.substr(said.rfind(' ') + 1);
    delivered.posted_to = std::string(*found.get(0, 2));
    delivered.posted_id = std::string(*found.get(0, 3));
    co_return delivered;
}

asio::awaitable<void> record(pg::Pool& pool, std::string message_key, MessageMapKey key,
                             std::string native_id) {
    pg::Lease lease = co_await pool.acquire();
    co_await lease->execute_cached("INSERT INTO message_map (message_key, system, native_id, conversation) "
                                   "VALUES ($1::uuid, $2, $3, $4) ON CONFLICT DO NOTHING",
                                   pg::params(std::move(message_key), std::move(key.system),
                                              std::move(native_id), std::move(key.conversation)));
}

asio::awaitable<long> forget_older_than(pg::Pool& pool, int days) {
    pg::Lease lease = co_await pool.acquire();
    const pg::Result gone = co_await lease->execute(
        "WITH gone AS (DELETE FROM message_map WHERE created_at < now() - make_interval(days => $1::int) "
        "RETURNING 1) SELECT count(*) FROM gone",
        pg::params(std::to_string(days)));
    co_return std::stol(std::string(*gone.get(0, 0)));
}

} // namespace ferry::store::message_map
