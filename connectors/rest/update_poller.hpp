#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace ferry::http {
class Client;
}
namespace ferry::store {
class MappingStore;
class MappingSnapshot;
struct Connector;
} // namespace ferry::store
namespace ferry::pg {
class Pool;
}

namespace ferry::core {
class Inlet;
class SenderNaming;
class Logger;
class SourceLease;
} // namespace ferry::core

namespace ferry::connectors::rest {

struct Preset;
struct ReceiveSpec;

/// Long polling for connectors whose preset can fetch what a webhook would receive (Telegram getUpdates,
/// turned on with `--setting poll=yes`), for setups without a public URL. One loop per such connector asks
/// the service from the cursor after the last result committed to the outbox, so a result is confirmed to
/// the service only once it is durable; a redelivered one is recognised by its id. Failures back off.
/// However many Ferry processes share the database, each connector is polled by one of them (the holder of
/// its SourceLease, `poll:<connector id>`), and the cursor is kept with the lease, so another process or a
/// restart goes on where the last one stopped.
class UpdatePoller {
public:
    UpdatePoller(boost::asio::any_io_executor executor, const store::MappingStore& store, core::Inlet& inlet,
                 core::SenderNaming& names, pg::Pool& pool, std::string owner, http::Client& client,
                 core::Logger& logger);
    UpdatePoller(const UpdatePoller&) = delete;
    UpdatePoller& operator=(const UpdatePoller&) = delete;

    /// Starts and ends the per-connector loops as connectors come and go, until stop(); returns once every
    /// loop has ended.
    boost::asio::awaitable<void> run();
    void stop();

private:
    boost::asio::awaitable<void> poll(std::int64_t connector_id);
    /// Polls while this process holds the connector's lease, from the cursor `progress`.
    boost::asio::awaitable<void> fetch(std::int64_t connector_id, std::string progress,
                                       core::SourceLease& lease);
    /// Takes one poll's results through the inlet, in order, moving `next` past each one taken; false when
    /// one could not be stored (it and those after it are fetched again).
    boost::asio::awaitable<bool> take_results(const store::MappingSnapshot& snapshot,
                                              const store::Connector& connector, const Preset& preset,
                                              const nlohmann::json& results, std::optional<long long>& next);

    boost::asio::any_io_executor executor_;
    const store::MappingStore& store_;
    core::Inlet& inlet_;
    core::SenderNaming& names_; ///< names the senders of what it fetched
    pg::Pool& pool_;
    std::string owner_;
    http::Client& client_;
    core::Logger& logger_;
    boost::asio::steady_timer tick_;
    bool stopping_ = false;
    /// The running loops, by connector id: the signal cancels a loop's poll in flight at stop().
    std::map<std::int64_t, std::unique_ptr<boost::asio::cancellation_signal>> running_;
};

} // namespace ferry::connectors::rest
