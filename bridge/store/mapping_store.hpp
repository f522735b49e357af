#pragma once

#include "bridge/pg/listener.hpp"
#include "bridge/store/mapping_snapshot.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace ferry::core {
class Logger;
}
namespace ferry::pg {
class Pool;
}

namespace ferry::store {

struct MappingStoreOptions {
    std::chrono::milliseconds poll_interval{30000}; ///< reload this long after the last one, NOTIFY or not
    std::chrono::milliseconds debounce{50};         ///< wait after a NOTIFY, so that a burst costs one reload
    std::chrono::milliseconds retry_min_delay{200}; ///< backoff for the LISTEN connection and failed reloads
    std::chrono::milliseconds retry_max_delay{10000};
    pg::ConnectionOptions connection; ///< for the dedicated LISTEN connection
};

/// The routing tables in memory: a MappingSnapshot that lookups read without a database round trip, kept
/// current by run(). Reloads read both tables in one REPEATABLE READ transaction on a pooled connection.
/// A dedicated connection LISTENs on `ferry_mappings` (the schema's triggers NOTIFY it on every change);
/// a notification, after `debounce`, triggers a reload, and one also happens every `poll_interval`, because
/// NOTIFY is a hint that a broken connection loses. When the LISTEN connection breaks, it reconnects with
/// backoff and reloads once LISTENing again, so that changes made meanwhile are not missed. A failed
/// reload keeps the previous snapshot and is retried with backoff. One info line is logged per reload.
class MappingStore {
public:
    /// The PostgreSQL channel the schema's triggers notify.
    static constexpr std::string_view channel = "ferry_mappings";

    /// Reloads through `pool`; LISTENs on a connection of its own to `conninfo` (std::invalid_argument when
    /// libpq cannot parse it). Starts nothing until run(). `pool` and `logger` must outlive the store.
    MappingStore(boost::asio::any_io_executor executor, pg::Pool& pool, std::string conninfo,
                 core::Logger& logger, MappingStoreOptions options = {});
    ~MappingStore();
    MappingStore(const MappingStore&) = delete;
    MappingStore& operator=(const MappingStore&) = delete;

    /// Loads the first snapshot, then keeps it current until stop() (or until the caller cancels it);
    /// waits as long as PostgreSQL is down. Rethrows only unexpected failures. One run() at a time.
    boost::asio::awaitable<void> run();
    /// Makes run() return promptly, whatever it is waiting for; before run(), makes it return at once.
    void stop();

    /// The current snapshot: never null; empty (and generation() 0) until the first load.
    std::shared_ptr<const MappingSnapshot> snapshot() const { return snapshot_; }
    /// How many snapshots have been loaded; each successful reload adds one.
    std::uint64_t generation() const { return generation_; }
    /// True once the first snapshot has been loaded.
    bool loaded() const { return generation_ > 0; }
    /// Completes once the first snapshot has been loaded (at once if it has). Throws
    /// boost::system::system_error (operation_aborted) when the store stops before that.
    boost::asio::awaitable<void> wait_loaded();
    /// Reads both tables now and swaps the snapshot in; pg::Error (or pg::ConnectionLost) when that fails.
    /// run() calls it; call it directly for a one-off load without run().
    boost::asio::awaitable<void> reload();

private:
    boost::asio::awaitable<void> reload_loop();
    boost::asio::awaitable<void> until_stopped();
    boost::asio::awaitable<std::exception_ptr> guarded(boost::asio::awaitable<void> loop);
    boost::asio::awaitable<void> sleep_until(std::chrono::steady_clock::time_point until);
    boost::asio::awaitable<bool> ending();
    void mark_dirty();

    boost::asio::any_io_executor executor_;
    pg::Pool& pool_;
    core::Logger& logger_;
    MappingStoreOptions options_;
    std::shared_ptr<const MappingSnapshot> snapshot_;
    std::uint64_t generation_ = 0;
    std::uint64_t loads_started_ = 0;
    std::uint64_t installed_load_ = 0; ///< which load (by start order) the current snapshot came from
    std::size_t last_rejected_ = 0;
    std::set<std::string> open_hooks_; ///< connectors with auth=none, already warned about
    bool dirty_ = false;
    bool running_ = false;
    bool stopping_ = false;
    pg::Listener listener_;
    boost::asio::steady_timer wake_;    ///< cancelled by mark_dirty() to wake reload_loop()
    boost::asio::steady_timer stopped_; ///< cancelled by stop()
    boost::asio::steady_timer loaded_;  ///< cancelled after the first load, to wake wait_loaded()
};

} // namespace ferry::store
