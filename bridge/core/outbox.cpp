#include "bridge/core/outbox.hpp"

#include "bridge/base/backoff.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/pg/transaction.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <random>
#include <set>

namespace ferry::core {

namespace asio = boost::asio;

struct Outbox::Request {
    std::vector<OutboxEntry> entries;
    std::vector<std::string> keys; ///< one idempotency key per entry, kept when a lost COMMIT is retried
    std::optional<SourceKey> source;
    std::optional<EnqueueResult> result;
    std::exception_ptr failure;
    bool finished = false;
    asio::steady_timer done;
    explicit Request(asio::any_io_executor executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
};

namespace {

// The whole batch is one statement, so one round trip and one implicit transaction: the source keys go to
// inbound_seen (those already there are duplicates, and their entries are skipped), the entries to the
// outbox, and when rows were added a NOTIFY tells the dispatchers of other processes. The idempotency keys
// come from the client: a batch written again after a lost COMMIT acknowledgement (the first COMMIT may have
// succeeded) then adds nothing twice. The result lists the source keys that were new.
constexpr std::string_view enqueue_batch = R"(
WITH fresh AS (
    INSERT INTO inbound_seen (connector_id, source_id, expires_at)
    SELECT (s->>0)::bigint, s->>1, now() + make_interval(secs => (s->>2)::double precision)
    FROM jsonb_array_elements($1::jsonb) AS s
    ON CONFLICT (connector_id, source_id) DO UPDATE SET seen_at = now(), expires_at = EXCLUDED.expires_at
        WHERE inbound_seen.expires_at <= now()
    RETURNING connector_id, source_id
), added AS (
    INSERT INTO outbox (idempotency_key, connector_id, conversation, destination, payload)
    SELECT (e->>'key')::uuid, (e->>'connector_id')::bigint, e->>'conversation', e->>'destination', e->'payload'
    FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS rows(e, n)
    WHERE e->'source' IS NULL
       OR EXISTS (SELECT 1 FROM fresh f
                  WHERE f.connector_id = (e->'source'->>0)::bigint AND f.source_id = e->'source'->>1)
    ORDER BY n
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING 1
), hint AS (
    SELECT pg_notify('ferry_outbox', $3) FROM (SELECT 1 FROM added LIMIT 1) AS any_added
)
SELECT connector_id, source_id FROM fresh
UNION ALL
SELECT NULL, NULL FROM hint)";

/// Random (version 4) UUIDs from `generator`. They only need to be unique, not secret: a generator seeded
/// once from std::random_device, because constructing a random_device costs ~12 µs here (cpuid exits the VM).
std::vector<std::string> new_keys(std::size_t count, std::mt19937_64& generator) {
    const auto random = [&generator] { return static_cast<std::uint32_t>(generator()); };
    std::vector<std::string> keys;
    keys.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t a = random();
        const std::uint32_t b = (random() & 0xffff0fffu) | 0x00004000u; // version 4
        const std::uint32_t c = (random() & 0x3fffffffu) | 0x80000000u; // RFC 4122 variant
        const std::uint32_t d = random();
        char text[37];
        std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%04x%08x", a, b >> 16, b & 0xffffu, c >> 16,
                      c & 0xffffu, d);
        keys.emplace_back(text);
    }
    return keys;
}

} // namespace

Outbox::Outbox(asio::any_io_executor executor, pg::Pool& pool, Logger& logger, OutboxOptions options)
    : executor_(executor), pool_(pool), logger_(logger), options_(std::move(options)), wakeup_(executor) {}

Outbox::~Outbox() = default;

asio::awaitable<EnqueueResult> Outbox::enqueue(std::vector<OutboxEntry> entries,
                                               std::optional<SourceKey> source) {
    auto request = std::make_shared<Request>(executor_);
    request->entries = std::move(entries);
    request->keys = new_keys(request->entries.size(), key_generator_);
    request->source = std::move(source);
    requests_.push_back(request);
    wakeup_.cancel();
    while (!request->finished) {
        co_await request->done.async_wait(asio::as_tuple(asio::use_awaitable));
        // A caller that gave up (a timeout around enqueue()) stops waiting; the request is still committed.
        const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        if (!request->finished && state.cancelled() != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted,
                                              "enqueue abandoned by its caller");
    }
    if (request->failure)
        std::rethrow_exception(request->failure);
    co_return *request->result;
}

void Outbox::stop() {
    stopping_ = true;
    wakeup_.cancel();
}

asio::awaitable<void> Outbox::run() {
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
    std::vector<std::shared_ptr<Request>> batch;
    for (;;) {
        if (requests_.empty()) {
            if (stopping_)
                co_return;
            wakeup_.expires_at(asio::steady_timer::time_point::max());
            co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        std::size_t rows = 0;
        while (!requests_.empty() &&
               (batch.empty() || rows + requests_.front()->entries.size() <= options_.max_batch)) {
            rows += requests_.front()->entries.size();
            batch.push_back(std::move(requests_.front()));
            requests_.pop_front();
        }
        bool retry = false;
        bool isolate = false;
        try {
            co_await commit(batch);
            backoff.reset();
        } catch (const pg::ConnectionLost& e) {
            // Nothing was acknowledged: put the batch back in front and try again once PostgreSQL answers.
            logger_.warning(std::string("outbox: commit failed, retrying: ") + e.what());
            requests_.insert(requests_.begin(), batch.begin(), batch.end());
            batch.clear();
            retry = true;
        } catch (const pg::Error& e) {
            // An SQL error is not transient, and nothing of the batch was written: find the requests at
            // fault.
            for (auto& request : batch)
                request->result.reset();
            isolate = batch.size() > 1;
            if (isolate) {
                logger_.warning(std::string("outbox: a batch of ") + std::to_string(batch.size()) +
                                " requests was refused (" + e.what() + "); writing them one by one");
            } else {
                logger_.error(std::string("outbox: refused a request: ") + e.what());
                batch.front()->failure = std::current_exception();
            }
        } catch (const std::exception& e) {
            logger_.error(std::string("outbox: commit failed: ") + e.what());
            for (auto& request : batch)
                request->failure = std::current_exception();
        }
        if (isolate) {
            try {
                co_await commit_one_by_one(batch);
            } catch (const pg::ConnectionLost& e) {
                logger_.warning(std::string("outbox: commit failed, retrying: ") + e.what());
                std::vector<std::shared_ptr<Request>> pending;
                for (auto& request : batch)
                    if (!request->result && !request->failure)
                        pending.push_back(request);
                    else
                        finish(*request);
                requests_.insert(requests_.begin(), pending.begin(), pending.end());
                batch.clear();
                retry = true;
            }
        }
        if (retry) {
            asio::steady_timer pause(executor_, backoff.next());
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        for (auto& request : batch)
            finish(*request);
        batch.clear();
    }
}

asio::awaitable<void> Outbox::commit_one_by_one(std::vector<std::shared_ptr<Request>>& batch) {
    for (auto& request : batch) {
        if (request->result || request->failure)
            continue; // settled before a lost connection interrupted this loop
        std::vector<std::shared_ptr<Request>> alone{request};
        try {
            co_await commit(alone);
        } catch (const pg::ConnectionLost&) {
            request->result.reset();
            throw;
        } catch (const pg::Error& e) {
            logger_.error(std::string("outbox: refused a request: ") + e.what());
            request->result.reset();
            request->failure = std::current_exception();
        }
    }
}

void Outbox::finish(Request& request) {
    request.finished = true;
    request.done.cancel();
}

asio::awaitable<void> Outbox::commit(std::vector<std::shared_ptr<Request>>& batch) {
    // Inbound dedup: the first request with a source key wins, in this batch and across history.
    nlohmann::json sources = nlohmann::json::array();
    std::set<std::pair<std::int64_t, std::string>> in_batch;
    for (auto& request : batch) {
        request->result = EnqueueResult::committed;
        if (!request->source)
            continue;
        if (!in_batch.emplace(request->source->connector_id, request->source->source_id).second) {
            request->result = EnqueueResult::duplicate;
            continue;
        }
        nlohmann::json source = {request->source->connector_id, request->source->source_id, nullptr};
        if (request->source->window)
            source[2] = request->source->window->count();
        sources.push_back(std::move(source));
    }
    nlohmann::json rows = nlohmann::json::array();
    for (auto& request : batch) {
        if (request->result != EnqueueResult::committed)
            continue;
        for (std::size_t i = 0; i < request->entries.size(); ++i) {
            const OutboxEntry& entry = request->entries[i];
            nlohmann::json row = {{"key", request->keys[i]},
                                  {"connector_id", entry.connector_id},
                                  {"conversation", entry.conversation},
                                  {"destination", entry.destination},
                                  {"payload", entry.payload}};
            if (request->source)
                row["source"] = {request->source->connector_id, request->source->source_id};
            rows.push_back(std::move(row));
        }
    }
    if (sources.empty() && rows.empty())
        co_return;
    const auto dump = [](const nlohmann::json& j) {
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    pg::Lease lease = co_await pool_.acquire();
    const pg::Result fresh =
        co_await lease->execute_cached(enqueue_batch, pg::params(dump(sources), dump(rows), options_.origin));
    lease.release();
    std::set<std::pair<std::int64_t, std::string>> accepted;
    for (int r = 0; r < fresh.rows(); ++r)
        if (const auto connector = fresh.get(r, 0))
            accepted.emplace(std::stoll(std::string(*connector)), std::string(*fresh.get(r, 1)));
    for (auto& request : batch)
        if (request->source && request->result == EnqueueResult::committed &&
            !accepted.contains({request->source->connector_id, request->source->source_id}))
            request->result = EnqueueResult::duplicate;
    if (!rows.empty() && on_committed_)
        on_committed_();
}

} // namespace ferry::core
