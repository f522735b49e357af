#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Logger;

struct SourceLeaseOptions {
    std::chrono::milliseconds lease{std::chrono::seconds(10)};      ///< how long a claim lasts unrenewed
    std::chrono::milliseconds renew_every{std::chrono::seconds(3)}; ///< how often the holder renews it
    std::chrono::milliseconds retry_every{std::chrono::seconds(2)}; ///< how often the others ask for it
};

/// Thrown by save_progress() when another process holds the source now.
class SourceLeaseLost : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Runs a fetching source (a poller, a mailbox watcher) in exactly one Ferry process of a deployment: the one
/// holding its row in `source_leases`. The holder renews the lease while the source runs; when the holder
/// dies, the lease runs out and another process takes the source over within lease + retry_every. The row
/// keeps the source's progress (its cursor), which the holder moves only after what it covers is committed.
class SourceLease {
public:
    /// `source` names the source across processes ("poll:<connector id>"); `owner` names this process.
    SourceLease(pg::Pool& pool, std::string source, std::string owner, Logger& logger,
                SourceLeaseOptions options = {});
    SourceLease(const SourceLease&) = delete;
    SourceLease& operator=(const SourceLease&) = delete;

    /// While `wanted()` holds: waits for the lease, then runs `body(progress)` (the progress saved last,
    /// empty at first) while the lease is renewed. A lost lease cancels the body and the wait starts again;
    /// the body returning ends the run and gives the lease back, and so does cancelling the run.
    boost::asio::awaitable<void> run(std::function<bool()> wanted,
                                     std::function<boost::asio::awaitable<void>(std::string)> body);

    /// Saves the source's progress; throws SourceLeaseLost when this process no longer holds the source.
    boost::asio::awaitable<void> save_progress(std::string_view progress);

    const std::string& source() const { return source_; }

private:
    boost::asio::awaitable<std::optional<std::string>> try_acquire();
    boost::asio::awaitable<bool> renew();
    boost::asio::awaitable<void> keep_renewed();
    boost::asio::awaitable<bool> release();
    boost::asio::awaitable<void> give_back();

    pg::Pool& pool_;
    std::string source_;
    std::string owner_;
    Logger& logger_;
    SourceLeaseOptions options_;
};

} // namespace ferry::core
