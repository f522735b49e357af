#include "bridge/pg/pool.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/pg/conninfo.hpp"
#include "bridge/pg/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::pg {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

Lease::Lease(Pool* pool, std::unique_ptr<Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

Lease& Lease::operator=(Lease&& other) noexcept { // NOLINT(bugprone-exception-escape)
    if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        connection_ = std::move(other.connection_);
    }
    return *this;
}

void Lease::release() {
    if (pool_ && connection_)
        pool_->give_back(std::move(connection_), true);
    pool_ = nullptr;
}

void Lease::discard() {
    if (pool_ && connection_)
        pool_->give_back(std::move(connection_), false);
    pool_ = nullptr;
}

Pool::Pool(asio::any_io_executor executor, std::string conninfo, PoolOptions options, core::Logger& logger)
    : executor_(executor), conninfo_(std::move(conninfo)), options_(options), logger_(logger),
      backoff_(options.retry_min_delay, options.retry_max_delay),
      changed_(executor, Clock::time_point::max()) {
    check_conninfo(conninfo_);
    description_ = redact_conninfo(conninfo_);
    if (options_.size == 0)
        options_.size = 1;
}

Pool::~Pool() { // NOLINT(bugprone-exception-escape)
    close();
}

void Pool::close() {
    closed_ = true;
    open_ -= idle_.size();
    idle_.clear();
    signal();
}

void Pool::signal() {
    changed_.cancel(); // wakes every acquire() that waits; each looks again
}

void Pool::give_back(std::unique_ptr<Connection> connection, bool keep) {
    if (keep && !closed_ && connection->is_open() && !connection->busy() && !connection->in_transaction())
        idle_.push_back(std::move(connection));
    else
        --open_; // the connection closes here; the next acquire() opens a fresh one
    signal();
}

asio::awaitable<void> Pool::wait_for_change(Clock::time_point until) {
    if (until == Clock::time_point::max()) {
        co_await changed_.async_wait(asio::as_tuple(asio::use_awaitable));
    } else {
        asio::steady_timer timer(executor_, until);
        co_await (changed_.async_wait(asio::as_tuple(asio::use_awaitable)) ||
                  timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    }
    // The waits end quietly on a signal and on cancellation alike: tell them apart.
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
        throw boost::system::system_error(asio::error::operation_aborted);
}

asio::awaitable<Lease> Pool::acquire() {
    for (;;) {
        if (closed_)
            throw ConnectionLost("the PostgreSQL pool is closed");
        while (!idle_.empty()) {
            std::unique_ptr<Connection> connection = std::move(idle_.back());
            idle_.pop_back();
            if (connection->probe())
                co_return Lease(this, std::move(connection));
            --open_; // the server closed it while it was idle
        }
        if (open_ < options_.size) {
            if (unreachable_ && connecting_ > 0) { // one attempt at a time while PostgreSQL is away
                co_await wait_for_change(Clock::time_point::max());
                continue;
            }
            if (unreachable_ && Clock::now() < retry_at_) {
                co_await wait_for_change(retry_at_);
                continue;
            }
            if (auto connection = co_await open_connection())
                co_return Lease(this, std::move(connection));
            continue;
        }
        co_await wait_for_change(Clock::time_point::max());
    }
}

asio::awaitable<std::unique_ptr<Connection>> Pool::open_connection() {
    ++open_;
    ++connecting_;
    auto connection = std::make_unique<Connection>(executor_, conninfo_, options_.connection);
    std::string failure;
    try {
        co_await connection->connect();
    } catch (const ConnectionLost& e) {
        failure = e.what();
    } catch (...) { // cancelled by our caller
        --open_;
        --connecting_;
        signal();
        throw;
    }
    --connecting_;
    if (failure.empty()) {
        if (unreachable_)
            logger_.info("PostgreSQL is reachable again (" + description_ + ")");
        unreachable_ = false;
        backoff_.reset();
        co_return connection;
    }
    --open_;
    unreachable_ = true;
    const auto delay = backoff_.next();
    retry_at_ = Clock::now() + delay;
    logger_.warning(failure + " (" + description_ + "); retrying in " + std::to_string(delay.count()) +
                    " ms (attempt " + std::to_string(backoff_.attempts()) + ")");
    signal();
    co_return nullptr;
}

} // namespace ferry::pg
