#pragma once

#include "bridge/base/backoff.hpp"
#include "bridge/pg/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ferry::core {
class Logger;
}

namespace ferry::pg {

class Pool;

struct PoolOptions {
    std::size_t size = 4; ///< connections open at most, idle or leased
    ConnectionOptions connection;
    std::chrono::milliseconds retry_min_delay{200}; ///< backoff while PostgreSQL cannot be reached
    std::chrono::milliseconds retry_max_delay{10000};
};

/// A connection borrowed from a Pool, given back when the lease is destroyed or released. Move-only; the
/// Pool must outlive its leases and its pending acquire() calls.
class Lease {
public:
    Lease() = default;
    // Only bad_alloc can escape giving a connection back, and that ends the process anyway.
    ~Lease() { release(); } // NOLINT(bugprone-exception-escape)
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept; // NOLINT(bugprone-exception-escape)
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }
    /// Gives the connection back now. A connection that is closed, broken, busy or inside a transaction
    /// block is closed instead, so no session state leaks to the next borrower.
    void release();
    /// Closes the connection instead of giving it back (after LISTEN or a SET that must not leak).
    void discard();
    explicit operator bool() const { return connection_ != nullptr; }

private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> connection);

    Pool* pool_ = nullptr;
    std::unique_ptr<Connection> connection_;
};

/// A few connections shared by the coroutines of one io_context. Opens connections lazily up to
/// options.size; when PostgreSQL cannot be reached, one attempt at a time is made, with exponential backoff
/// between attempts, and every acquire() waits until it is back.
class Pool {
public:
    /// Checks `conninfo` (std::invalid_argument when libpq cannot parse it); opens nothing yet. Failures to
    /// connect are logged with the password hidden.
    Pool(boost::asio::any_io_executor executor, std::string conninfo, PoolOptions options,
         core::Logger& logger);
    ~Pool(); // NOLINT(bugprone-exception-escape)
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// A connection for the caller's exclusive use: an idle one that still answers, a new one while fewer
    /// than options.size are open, or else the next one given back. Waits as long as PostgreSQL is down
    /// (wrap it in a timeout with `||` where waiting forever is wrong). Throws ConnectionLost after close().
    boost::asio::awaitable<Lease> acquire();
    /// Closes the idle connections and makes acquire() fail; leases out close their connection on return.
    void close();

    /// Connections open (idle, leased, or being opened).
    std::size_t open() const { return open_; }
    /// Connections waiting in the pool.
    std::size_t idle() const { return idle_.size(); }
    /// True from a failed attempt to connect until the next successful one.
    bool unreachable() const { return unreachable_; }

private:
    friend class Lease;
    void give_back(std::unique_ptr<Connection> connection, bool keep);
    boost::asio::awaitable<std::unique_ptr<Connection>> open_connection();
    boost::asio::awaitable<void> wait_for_change(std::chrono::steady_clock::time_point until);
    void signal();

    boost::asio::any_io_executor executor_;
    std::string conninfo_;
    std::string description_;
    PoolOptions options_;
    core::Logger& logger_;
    core::Backoff backoff_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;
    std::size_t connecting_ = 0;
    bool unreachable_ = false;
    bool closed_ = false;
    std::chrono::steady_clock::time_point retry_at_{};
    boost::asio::steady_timer changed_; ///< cancelled whenever a connection is given back or a slot frees
};

} // namespace ferry::pg
