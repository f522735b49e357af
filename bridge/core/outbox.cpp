#include "bridge/core/outbox.hpp"

#include "bridge/core/backoff.hpp"
#include "bridge/core/logger.hpp"
#include "mappings/pg/error.hpp"
#include "mappings/pg/pool.hpp"
#include "mappings/pg/transaction.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

namespace ferry::core {

namespace asio = boost::asio;

struct Outbox::Request {
    std::vector<OutboxEntry> entries;
    std::optional<SourceKey> source;
    std::optional<EnqueueResult> result;
    std::exception_ptr failure;
    bool finished = false;
    asio::steady_timer done;
    explicit Request(asio::any_io_executor executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
};

namespace {

// One statement per table whatever the batch size: the rows travel as one JSON parameter.
constexpr std::string_view record_sources = R"(
INSERT INTO inbound_seen (connector_id, source_id)
SELECT (s->>0)::bigint, s->>1 FROM jsonb_array_elements($1::jsonb) AS s
ON CONFLICT DO NOTHING
RETURNING connector_id, source_id)";

constexpr std::string_view insert_rows = R"(
INSERT INTO outbox (connector_id, conversation, destination, payload)
SELECT (e->>'connector_id')::bigint, e->>'conversation', e->>'destination', e->'payload'
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows(e, n)
ORDER BY n)";

} // namespace

Outbox::Outbox(asio::any_io_executor executor, pg::Pool& pool, Logger& logger, OutboxOptions options)
    : executor_(executor), pool_(pool), logger_(logger), options_(options), wakeup_(executor) {}

Outbox::~Outbox() = default;

asio::awaitable<EnqueueResult> Outbox::enqueue(std::vector<OutboxEntry> entries,
                                               std::optional<SourceKey> source) {
    auto request = std::make_shared<Request>(executor_);
    request->entries = std::move(entries);
    request->source = std::move(source);
    requests_.push_back(request);
    wakeup_.cancel();
    while (!request->finished)
        co_await request->done.async_wait(asio::as_tuple(asio::use_awaitable));
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
        try {
            co_await commit(batch);
            backoff.reset();
        } catch (const pg::ConnectionLost& e) {
            // Nothing was acknowledged: put the batch back in front and try again once PostgreSQL answers.
            logger_.warning(std::string("outbox: commit failed, retrying: ") + e.what());
            requests_.insert(requests_.begin(), batch.begin(), batch.end());
            batch.clear();
            retry = true;
        } catch (const std::exception& e) {
            // An SQL error is not transient: fail these callers, keep serving the others.
            logger_.error(std::string("outbox: commit failed: ") + e.what());
            for (auto& request : batch)
                request->failure = std::current_exception();
        }
        if (retry) {
            asio::steady_timer pause(executor_, backoff.next());
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        for (auto& request : batch) {
            request->finished = true;
            request->done.cancel();
        }
        batch.clear();
    }
}

asio::awaitable<void> Outbox::commit(std::vector<std::shared_ptr<Request>>& batch) {
    pg::Lease lease = co_await pool_.acquire();
    bool wrote = false;
    co_await pg::with_transaction(lease, [&](pg::Connection& db) -> asio::awaitable<void> {
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
            sources.push_back({request->source->connector_id, request->source->source_id});
        }
        if (!sources.empty()) {
            const pg::Result fresh = co_await db.execute(record_sources, pg::params(sources.dump()));
            std::set<std::pair<std::int64_t, std::string>> accepted;
            for (int r = 0; r < fresh.rows(); ++r)
                accepted.emplace(std::stoll(std::string(*fresh.get(r, 0))), std::string(*fresh.get(r, 1)));
            for (auto& request : batch)
                if (request->source && request->result == EnqueueResult::committed &&
                    !accepted.contains({request->source->connector_id, request->source->source_id}))
                    request->result = EnqueueResult::duplicate;
        }
        nlohmann::json rows = nlohmann::json::array();
        for (auto& request : batch) {
            if (request->result != EnqueueResult::committed)
                continue;
            for (auto& entry : request->entries)
                rows.push_back({{"connector_id", entry.connector_id},
                                {"conversation", entry.conversation},
                                {"destination", entry.destination},
                                {"payload", entry.payload}});
        }
        if (!rows.empty()) {
            co_await db.execute(
                insert_rows, pg::params(rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
            // A payload-less hint for dispatchers in other processes; one per transaction.
            co_await db.execute("SELECT pg_notify('ferry_outbox', '')");
            wrote = true;
        }
    });
    if (wrote && on_committed_)
        on_committed_();
}

} // namespace ferry::core
