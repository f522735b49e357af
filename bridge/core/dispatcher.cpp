#include "bridge/core/dispatcher.hpp"

#include "bridge/base/backoff.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/message_map.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

namespace ferry::core {

namespace asio = boost::asio;
using core::DeliveryResult;

namespace {

// The head row of a conversation decides for all of it: only a head that is due and not leased (locked with
// SKIP LOCKED, so concurrent claimers pass over it) lets its conversation's rows be claimed, in id order.
constexpr std::string_view claim_rows = R"(
WITH heads AS (
    SELECT DISTINCT ON (conversation) id FROM outbox ORDER BY conversation, id
), free AS (
    SELECT o.conversation FROM outbox o JOIN heads h ON o.id = h.id
    WHERE o.next_attempt_at <= now() AND (o.lease_expires_at IS NULL OR o.lease_expires_at < now())
    ORDER BY o.id
    LIMIT $3
    FOR UPDATE OF o SKIP LOCKED
), picked AS (
    SELECT id FROM outbox WHERE conversation IN (SELECT conversation FROM free) ORDER BY id LIMIT $3
)
UPDATE outbox o
SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2::double precision)
FROM picked WHERE o.id = picked.id
RETURNING o.id, o.connector_id, o.idempotency_key, o.conversation, o.destination, o.payload, o.attempts,
          extract(epoch FROM now() - o.created_at))";

// Every outcome of a batch in one statement (one round trip, one implicit transaction): delivered rows leave
// the outbox and their remote ids go to message_map, retries are rescheduled, failures become dead letters,
// rows not attempted are released. Each part touches only rows this process still leases.
constexpr std::string_view record_outcomes = R"(
WITH delivered AS (
    DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND lease_owner = $6
), remote_ids AS (
    INSERT INTO message_map (message_key, system, native_id, conversation)
    SELECT (r->>'key')::uuid, r->>'system', r->>'native_id', r->>'conversation' FROM jsonb_array_elements($2::jsonb) r
    ON CONFLICT DO NOTHING
), retries AS (
    UPDATE outbox o
    SET attempts = o.attempts + 1, lease_owner = NULL, lease_expires_at = NULL, last_error = r->>'error',
        next_attempt_at = now() + make_interval(secs => (r->>'delay')::double precision)
    FROM jsonb_array_elements($3::jsonb) r
    WHERE o.id = (r->>'id')::bigint AND o.lease_owner = $6
), gone AS (
    DELETE FROM outbox o USING jsonb_array_elements($4::jsonb) r
    WHERE o.id = (r->>'id')::bigint AND o.lease_owner = $6
    RETURNING o.idempotency_key, o.connector_id, o.conversation, o.destination, o.payload, o.attempts + 1 AS attempts,
              r->>'reason' AS reason, o.created_at
), buried AS (
    INSERT INTO dead_letters (idempotency_key, connector_id, conversation, destination, payload, attempts, reason,
                              enqueued_at)
    SELECT idempotency_key, connector_id, conversation, destination, payload, attempts, reason, created_at FROM gone
    ON CONFLICT (idempotency_key) DO NOTHING
), untouched AS (
    UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ANY($5::bigint[]) AND lease_owner = $6
)
SELECT 1)";

/// Attempts after which a row whose delivery keeps throwing becomes a dead letter.
constexpr int max_internal_errors = 3;

std::string id_array(const std::vector<std::int64_t>& ids) {
    std::string text = "{";
    for (std::size_t i = 0; i < ids.size(); ++i)
        text += (i ? "," : "") + std::to_string(ids[i]);
    return text + "}";
}

} // namespace

struct Dispatcher::Outcome {
    enum class Kind { not_attempted, delivered, retry, failed } kind = Kind::not_attempted;
    std::string remote_id;
    std::string remote_conversation;
    std::string remote_system;
    std::vector<std::string> also_recorded_under;
    std::string thread_root;
    std::string error;
    std::chrono::milliseconds delay{0};
};

Dispatcher::Dispatcher(asio::any_io_executor executor, pg::Pool& pool, ConnectorLookup connectors,
                       Logger& logger, DispatcherOptions options)
    : executor_(executor), pool_(pool), connectors_(std::move(connectors)), logger_(logger),
      options_(std::move(options)), wakeup_(executor) {}

void Dispatcher::wake() {
    woken_ = true;
    wakeup_.cancel();
}

void Dispatcher::stop() {
    stopping_ = true;
    wakeup_.cancel();
}

asio::awaitable<void> Dispatcher::run() {
    Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(10));
    while (!stopping_) {
        woken_ = false;
        std::vector<ClaimedRow> rows;
        bool unreachable = false;
        try {
            rows = co_await claim();
            backoff.reset();
        } catch (const pg::ConnectionLost& e) {
            logger_.warning(std::string("dispatcher: cannot claim outbox rows: ") + e.what());
            unreachable = true;
        }
        if (unreachable) {
            wakeup_.expires_after(backoff.next());
            co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        if (rows.empty()) {
            if (!woken_ && !stopping_) {
                wakeup_.expires_after(options_.idle_poll);
                co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            continue;
        }
        // One coroutine per conversation; the rows of each stay in order.
        std::map<std::string, std::vector<std::size_t>> conversations;
        for (std::size_t i = 0; i < rows.size(); ++i)
            conversations[rows[i].delivery.conversation].push_back(i);
        std::vector<Outcome> outcomes(rows.size());
        std::size_t running = conversations.size();
        asio::steady_timer all_done(executor_, asio::steady_timer::time_point::max());
        for (auto& [name, members] : conversations) {
            asio::co_spawn(executor_, deliver_conversation(members, rows, outcomes),
                           [&](const std::exception_ptr&) {
                               if (--running == 0)
                                   all_done.cancel();
                           });
        }
        while (running > 0)
            co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
        co_await record(rows, outcomes);
    }
}

asio::awaitable<std::vector<ClaimedRow>> Dispatcher::claim() {
    pg::Lease lease = co_await pool_.acquire();
    const pg::Result result = co_await lease->execute_cached(
        claim_rows,
        pg::params(options_.owner, std::to_string(static_cast<double>(options_.lease.count()) / 1000.0),
                   std::to_string(options_.batch)));
    std::vector<ClaimedRow> rows;
    rows.reserve(static_cast<std::size_t>(result.rows()));
    for (int r = 0; r < result.rows(); ++r) {
        ClaimedRow row;
        row.id = std::stoll(std::string(*result.get(r, 0)));
        row.connector_id = std::stoll(std::string(*result.get(r, 1)));
        row.delivery.idempotency_key = std::string(*result.get(r, 2));
        row.delivery.conversation = std::string(*result.get(r, 3));
        row.delivery.destination = std::string(*result.get(r, 4));
        try {
            row.delivery.message = message_from_json(nlohmann::json::parse(*result.get(r, 5)));
        } catch (const nlohmann::json::exception& e) {
            logger_.error("outbox row " + std::to_string(row.id) + " has an unreadable payload: " + e.what());
        }
        row.attempts = std::stoi(std::string(*result.get(r, 6)));
        row.delivery.attempt = row.attempts + 1;
        row.age_seconds = std::stod(std::string(*result.get(r, 7)));
        rows.push_back(std::move(row));
    }
    // Row order within a conversation is id order; the map in run() keeps it per conversation.
    std::sort(rows.begin(), rows.end(), [](const ClaimedRow& a, const ClaimedRow& b) { return a.id < b.id; });
    co_return rows;
}

std::chrono::milliseconds Dispatcher::retry_delay(int attempts, const DeliveryResult& result) {
    Backoff backoff(options_.retry_min_delay, options_.retry_max_delay,
                    static_cast<std::uint64_t>(std::random_device{}()));
    std::chrono::milliseconds delay{0};
    for (int i = 0; i <= std::min(attempts, 30); ++i)
        delay = backoff.next();
    if (result.retry_after)
        delay = std::max(delay, *result.retry_after);
    return delay;
}

asio::awaitable<void> Dispatcher::deliver_conversation(std::vector<std::size_t> indexes,
                                                       const std::vector<ClaimedRow>& rows,
                                                       std::vector<Outcome>& outcomes) {
    // The rows of a conversation share their connector: the head's.
    core::Connector* connector = connectors_(rows[indexes.front()]);
    std::vector<DeliveryResult> results;
    if (connector == nullptr) {
        results.push_back(DeliveryResult::retry("connector " +
                                                std::to_string(rows[indexes.front()].connector_id) +
                                                " is disabled or not configured"));
    } else {
        std::vector<const core::Delivery*> deliveries;
        deliveries.reserve(indexes.size());
        for (const std::size_t index : indexes)
            deliveries.push_back(&rows[index].delivery);
        std::string thrown;
        try {
            results = co_await connector->send_batch(std::move(deliveries));
        } catch (const std::exception& e) {
            thrown = e.what();
        }
        // A connector that throws breaks its contract; the head row is the one it was on. It is retried, and
        // buried after a few attempts, so that it neither stalls its conversation nor loops unseen.
        if (!thrown.empty()) {
            const ClaimedRow& head = rows[indexes.front()];
            const std::string reason = "internal error while delivering: " + thrown;
            results.assign(1, head.attempts + 1 >= max_internal_errors ? DeliveryResult::failed(reason)
                                                                       : DeliveryResult::retry(reason));
        }
    }
    for (std::size_t i = 0; i < results.size() && i < indexes.size(); ++i) {
        const ClaimedRow& row = rows[indexes[i]];
        Outcome& outcome = outcomes[indexes[i]];
        DeliveryResult& result = results[i];
        if (result.outcome == DeliveryResult::Outcome::delivered) {
            outcome.kind = Outcome::Kind::delivered;
            outcome.remote_id = std::move(result.remote_id);
            outcome.remote_conversation = std::move(result.remote_conversation);
            outcome.remote_system = std::move(result.remote_system);
            outcome.also_recorded_under = std::move(result.also_recorded_under);
            outcome.thread_root = std::move(result.thread_root);
            continue;
        }
        if (result.outcome == DeliveryResult::Outcome::retry) {
            const bool too_many = row.attempts + 1 >= options_.max_attempts;
            const bool too_old = row.age_seconds >= static_cast<double>(options_.max_age.count());
            if (!too_many && !too_old) {
                outcome.kind = Outcome::Kind::retry;
                outcome.error = std::move(result.error);
                outcome.delay = retry_delay(row.attempts, result);
                co_return; // later rows of this conversation wait behind this one
            }
            result.error = "gave up after " + std::to_string(row.attempts + 1) + " attempts over " +
                           std::to_string(static_cast<long>(row.age_seconds)) +
                           " s; last error: " + result.error;
        }
        outcome.kind = Outcome::Kind::failed;
        outcome.error = std::move(result.error);
    }
}

void Dispatcher::record_message_ids(const ClaimedRow& row, const Outcome& outcome, nlohmann::json& ids) {
    namespace message_map = store::message_map;
    const Message& m = row.delivery.message;
    // message_map holds ids up to 1024 bytes; a longer one is not worth failing the batch for.
    const auto add = [&](const std::string& native_id, store::MessageMapKey key) {
        if (!native_id.empty() && native_id.size() <= 1024)
            ids.push_back({{"key", row.delivery.idempotency_key},
                           {"system", std::move(key.system)},
                           {"native_id", native_id},
                           {"conversation", std::move(key.conversation)}});
    };
    if (m.source == "xmpp" && m.kind != "retraction") {
        // The XMPP id of what was delivered, so that a later correction, retraction or reply that names it
        // finds the remote message (message_map joins both by the outbox key); in a room also the room's
        // stanza-id, which replies and retractions there may name instead (XEP-0461, XEP-0424).
        const store::MessageMapKey said = message_map::xmpp_said(row.delivery.conversation, xmpp_author(m));
        add(m.source_id, said);
        add(m.room_id, said);
    }
    // A chat service's message: its id there, so that a later edit, deletion or reply on the service that
    // names it finds what it became in XMPP. Per mapping: one message may go to several. For a reply inside
    // a thread also the thread's first message, which a reply to this one must name on services whose
    // threads only their first message names (such as thread_ts); keyed by the reply's own id, which is
    // unique.
    if (m.source != "xmpp" && said_in_channel(m) && (m.kind == "message" || m.kind == "reply")) {
        const store::MessageMapKey said =
            message_map::service_said(row.connector_id, row.delivery.conversation, m.channel);
        add(m.source_id, said);
        if (m.kind == "reply")
            add(m.refers_to, message_map::thread_root(said.system, said.conversation, m.source_id));
    }
    const std::string system = outcome.remote_system.empty() ? message_map::connector_system(row.connector_id)
                                                             : outcome.remote_system;
    add(outcome.remote_id,
        message_map::posted(system, outcome.remote_conversation.empty() ? row.delivery.destination
                                                                        : outcome.remote_conversation));
    for (const std::string& conversation : outcome.also_recorded_under)
        add(outcome.remote_id, message_map::posted(system, conversation));
    if (!outcome.remote_id.empty())
        add(outcome.thread_root,
            message_map::thread_root(system, row.delivery.destination, outcome.remote_id));
}

asio::awaitable<void> Dispatcher::record(const std::vector<ClaimedRow>& rows,
                                         const std::vector<Outcome>& outcomes) {
    std::vector<std::int64_t> delivered;
    std::vector<std::int64_t> untouched;
    nlohmann::json remote_ids = nlohmann::json::array();
    nlohmann::json retries = nlohmann::json::array();
    nlohmann::json failures = nlohmann::json::array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const ClaimedRow& row = rows[i];
        const Outcome& outcome = outcomes[i];
        switch (outcome.kind) {
        case Outcome::Kind::delivered:
            delivered.push_back(row.id);
            record_message_ids(row, outcome, remote_ids);
            break;
        case Outcome::Kind::retry:
            retries.push_back({{"id", row.id},
                               {"error", outcome.error},
                               {"delay", static_cast<double>(outcome.delay.count()) / 1000.0}});
            logger_.warning("delivery of outbox row " + std::to_string(row.id) + " to " +
                            row.delivery.destination + " failed (attempt " +
                            std::to_string(row.delivery.attempt) + "), retrying in " +
                            std::to_string(outcome.delay.count()) + " ms: " + outcome.error);
            break;
        case Outcome::Kind::failed:
            failures.push_back({{"id", row.id}, {"reason", outcome.error}});
            logger_.error("delivery of outbox row " + std::to_string(row.id) + " to " +
                          row.delivery.destination + " failed for good: " + outcome.error);
            break;
        case Outcome::Kind::not_attempted:
            untouched.push_back(row.id);
            break;
        }
    }
    const auto dump = [](const nlohmann::json& j) {
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    // Keep trying while our leases hold: giving up would mean delivering these rows a second time.
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(2));
    const auto deadline = std::chrono::steady_clock::now() + options_.lease;
    for (;;) {
        try {
            pg::Lease lease = co_await pool_.acquire();
            co_await lease->execute_cached(record_outcomes,
                                           pg::params(id_array(delivered), dump(remote_ids), dump(retries),
                                                      dump(failures), id_array(untouched), options_.owner));
            break;
        } catch (const pg::ConnectionLost& e) {
            if (std::chrono::steady_clock::now() > deadline) {
                logger_.error(
                    std::string("dispatcher: could not record delivery outcomes before the lease ran out; "
                                "those rows will be delivered again: ") +
                    e.what());
                co_return;
            }
            logger_.warning(std::string("dispatcher: recording outcomes failed, retrying: ") + e.what());
        } catch (const pg::Error& e) {
            // An SQL error will not go away by retrying. The ids for message_map come from outside and are
            // the likely cause: the outcomes are recorded without them rather than the rows delivered again.
            if (remote_ids.empty()) {
                logger_.error(std::string("dispatcher: could not record delivery outcomes; the rows will be "
                                          "delivered again when their leases expire: ") +
                              e.what());
                co_return;
            }
            logger_.error(
                std::string("dispatcher: could not record delivery outcomes with their message ids; "
                            "recording them without: ") +
                e.what());
            remote_ids = nlohmann::json::array();
            continue;
        }
        asio::steady_timer pause(executor_, backoff.next());
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    delivered_ += delivered.size();
    if (on_outcome_)
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const Outcome::Kind kind = outcomes[i].kind;
            if (kind != Outcome::Kind::not_attempted)
                on_outcome_(rows[i], kind == Outcome::Kind::delivered ? "delivered"
                                     : kind == Outcome::Kind::retry   ? "retry"
                                                                      : "failed");
        }
    if (on_dead_letter_)
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (outcomes[i].kind == Outcome::Kind::failed)
                on_dead_letter_(rows[i].delivery, outcomes[i].error);
}

} // namespace ferry::core
