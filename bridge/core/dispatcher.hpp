#pragma once

#include "bridge/core/connector.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::pg {
class Pool;
class Connection;
} // namespace ferry::pg

namespace ferry::core {

class Logger;

struct DispatcherOptions {
    std::string owner;        ///< unique per process; names the leases this process holds
    std::size_t batch = 1000; ///< rows claimed per round trip at most
    std::chrono::milliseconds lease{30000};
    std::chrono::milliseconds idle_poll{1000}; ///< how often to look for due rows when nothing wakes us
    std::chrono::milliseconds retry_min_delay{1000};
    std::chrono::milliseconds retry_max_delay{300000};
    int max_attempts = 100;
    std::chrono::seconds max_age{5 * 24 * 3600}; ///< Postfix's maximal_queue_lifetime
};

/// One claimed outbox row.
struct ClaimedRow {
    std::int64_t id = 0;
    std::int64_t connector_id = 0;
    int attempts = 0; ///< failed attempts before this one
    double age_seconds = 0;
    core::Delivery delivery;
};

/// The durable queue's delivering side. Claims due rows with FOR UPDATE SKIP LOCKED and a lease (any number
/// of Ferry processes can share one database), delivers each conversation's rows in order through its
/// connector, and records the outcome in one transaction per batch: delivered rows leave the outbox (their
/// remote ids go to message_map), transient failures are retried with exponential backoff and jitter
/// (honouring Retry-After), permanent failures and rows too old or tried too often become dead letters.
class Dispatcher {
public:
    /// Who delivers a claimed row: the connector for its connector id (or, for rows bound to XMPP, the XMPP
    /// side), or nullptr when it is unknown or disabled (the row then waits).
    using ConnectorLookup = std::function<core::Connector*(const ClaimedRow& row)>;
    using DeadLetterHandler = std::function<void(const core::Delivery&, const std::string& reason)>;

    Dispatcher(boost::asio::any_io_executor executor, pg::Pool& pool, ConnectorLookup connectors,
               Logger& logger, DispatcherOptions options);
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    /// Called for each row that became a dead letter, after that was committed.
    void on_dead_letter(DeadLetterHandler handler) { on_dead_letter_ = std::move(handler); }
    /// Called for each attempted row once its outcome is committed: "delivered", "retry" or "failed".
    using OutcomeObserver = std::function<void(const ClaimedRow&, std::string_view outcome)>;
    void on_outcome(OutcomeObserver observer) { on_outcome_ = std::move(observer); }
    /// Claims and delivers until stop(); PostgreSQL outages pause it.
    boost::asio::awaitable<void> run();
    /// Looks for due rows now (after a local commit, or a NOTIFY from another process).
    void wake();
    /// Finishes the batch in hand, records its outcome, then run() returns.
    void stop();

    std::uint64_t delivered() const { return delivered_; }

private:
    struct Outcome;
    boost::asio::awaitable<std::vector<ClaimedRow>> claim();
    boost::asio::awaitable<void> deliver_conversation(std::vector<std::size_t> indexes,
                                                      const std::vector<ClaimedRow>& rows,
                                                      std::vector<Outcome>& outcomes);
    boost::asio::awaitable<void> record(const std::vector<ClaimedRow>& rows,
                                        const std::vector<Outcome>& outcomes);
    std::chrono::milliseconds retry_delay(int attempts, const core::DeliveryResult& result);
    /// The ids a delivered row leaves in message_map (both sides of the message), appended to `ids`.
    static void record_message_ids(const ClaimedRow& row, const Outcome& outcome, nlohmann::json& ids);

    boost::asio::any_io_executor executor_;
    pg::Pool& pool_;
    ConnectorLookup connectors_;
    Logger& logger_;
    DispatcherOptions options_;
    DeadLetterHandler on_dead_letter_;
    OutcomeObserver on_outcome_;
    boost::asio::steady_timer wakeup_;
    bool woken_ = false;
    bool stopping_ = false;
    std::uint64_t delivered_ = 0;
};

} // namespace ferry::core
