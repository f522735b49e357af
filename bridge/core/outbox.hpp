#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Logger;

/// One row to write to the outbox.
struct OutboxEntry { // NOLINT(bugprone-exception-escape): nlohmann::json's moves are noexcept
    std::int64_t connector_id = 0;
    std::string conversation; ///< rows of one conversation are delivered in the order they were enqueued
    std::string destination;
    nlohmann::json payload; ///< the Message as JSON
};

/// Identifies an input already accepted once (inbound dedup): connector + the source's own id.
struct SourceKey {
    std::int64_t connector_id = 0;
    std::string source_id;
    /// How long the id counts as seen; unset: for good. Seen again after that, it is accepted as new.
    std::optional<std::chrono::seconds> window;
};

enum class EnqueueResult {
    committed, ///< the rows are durable: the input may be acknowledged
    duplicate, ///< the source key was seen before: nothing written, acknowledge without delivering again
};

struct OutboxOptions {
    std::size_t max_batch = 2000; ///< entries per commit at most
    std::string origin;           ///< payload of the NOTIFY ferry_outbox it sends: who wrote the rows
};

/// The durable queue's writing side, with group commit: every enqueue() waiting at the same time is written
/// in one transaction, so throughput does not stop at one fsync per message. enqueue() returns only after
/// COMMIT; while PostgreSQL is down it waits (nothing is lost, the caller simply does not acknowledge yet).
/// When PostgreSQL refuses a batch (an SQL error such as an unknown connector id), each of its requests is
/// written again on its own, so only the request at fault fails.
class Outbox {
public:
    Outbox(boost::asio::any_io_executor executor, pg::Pool& pool, Logger& logger, OutboxOptions options = {});
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    /// Writes `entries` (and records `source`, when given, in inbound_seen in the same transaction). A
    /// caller that cancels the wait (pg::within) gets operation_aborted; the entries are committed anyway.
    boost::asio::awaitable<EnqueueResult> enqueue(std::vector<OutboxEntry> entries,
                                                  std::optional<SourceKey> source = std::nullopt);
    /// The committer; run it once. Returns after stop() once everything accepted so far is committed.
    boost::asio::awaitable<void> run();
    void stop();
    /// Called after each commit that wrote rows (the dispatcher of this process wakes up at once).
    void on_committed(std::function<void()> callback) { on_committed_ = std::move(callback); }
    std::size_t waiting() const { return requests_.size(); }

private:
    struct Request;
    boost::asio::awaitable<void> commit(std::vector<std::shared_ptr<Request>>& batch);
    static void finish(Request& request);
    boost::asio::awaitable<void> commit_one_by_one(std::vector<std::shared_ptr<Request>>& batch);

    boost::asio::any_io_executor executor_;
    pg::Pool& pool_;
    Logger& logger_;
    OutboxOptions options_;
    std::deque<std::shared_ptr<Request>> requests_;
    boost::asio::steady_timer wakeup_;
    bool stopping_ = false;
    std::function<void()> on_committed_;
    std::mt19937_64 key_generator_{std::random_device{}()}; ///< idempotency keys
};

} // namespace ferry::core
