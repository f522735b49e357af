#include "bridge/core/outbox_vacuum.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::core {

namespace asio = boost::asio;

OutboxVacuum::OutboxVacuum(asio::any_io_executor executor, pg::Pool& pool, Logger& logger,
                           std::function<std::uint64_t()> delivered, std::uint64_t rows_between,
                           std::chrono::milliseconds interval)
    : pool_(pool), logger_(logger), delivered_(std::move(delivered)), rows_between_(rows_between),
      interval_(interval), tick_(executor) {}

asio::awaitable<void> OutboxVacuum::run() {
    std::uint64_t vacuumed_at = delivered_();
    while (!stopping_) {
        tick_.expires_after(interval_);
        co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopping_ || delivered_() - vacuumed_at < rows_between_)
            continue;
        vacuumed_at = delivered_();
        try {
            pg::Lease lease = co_await pool_.acquire();
            co_await lease->execute_script("VACUUM outbox", std::chrono::seconds(10));
            ++vacuums_;
        } catch (const pg::Timeout&) {
            logger_.warning(
                "outbox: VACUUM took over 10 s; left to autovacuum until more rows are delivered");
        } catch (const pg::ConnectionLost&) {
            // PostgreSQL is away; the dispatcher reports that. Tried again after the next rows.
        } catch (const pg::Error& e) {
            logger_.warning(std::string("outbox: VACUUM failed: ") + e.what());
        }
    }
}

} // namespace ferry::core
