#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>

namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Logger;

/// Keeps the outbox small. Every delivered row leaves a dead tuple and dead index entries behind, and each
/// claim walks them until a vacuum removes them; autovacuum looks at most once a minute (autovacuum_naptime),
/// in which a busy outbox grows to tens of megabytes of dead rows (docs/performance.md, section 7). So once
/// `rows_between` more rows were delivered, it runs VACUUM outbox, checking every `interval`. (A role that
/// does not own the table gets a warning from PostgreSQL instead; autovacuum alone keeps the table then.)
class OutboxVacuum {
public:
    OutboxVacuum(boost::asio::any_io_executor executor, pg::Pool& pool, Logger& logger,
                 std::function<std::uint64_t()> delivered, std::uint64_t rows_between = 2000,
                 std::chrono::milliseconds interval = std::chrono::seconds(1));

    boost::asio::awaitable<void> run();
    void stop() {
        stopping_ = true;
        tick_.cancel();
    }
    std::uint64_t vacuums() const { return vacuums_; }

private:
    pg::Pool& pool_;
    Logger& logger_;
    std::function<std::uint64_t()> delivered_;
    std::uint64_t rows_between_;
    std::chrono::milliseconds interval_;
    boost::asio::steady_timer tick_;
    bool stopping_ = false;
    std::uint64_t vacuums_ = 0;
};

} // namespace ferry::core
