#pragma once

#include "bridge/core/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::store {
struct Connector;
}

namespace ferry::core {

class Logger;
class Metrics;

/// Who can put names to the senders of an arrival (a chat service's user directory): a family gives one with
/// the arrival when its senders arrive as ids.
class SenderNaming {
public:
    virtual ~SenderNaming() = default;
    /// Sets `sender_name` in the rows (outbox payloads) that have a sender but no name, where it can.
    virtual boost::asio::awaitable<void> complete(const store::Connector& connector,
                                                  std::vector<OutboxEntry>& entries) = 0;
};

/// What arrived from outside for XMPP in one request or one fetched result.
struct Arrival {
    std::vector<OutboxEntry> entries;
    std::optional<SourceKey> source; ///< the id (and how long it counts) that makes a resend a duplicate
    std::string summary;             ///< what it was, for the log line
    /// Who names the senders before they are stored; null: as given.
    SenderNaming* names_from = nullptr;
};

enum class InletOutcome {
    committed,  ///< durable: the sender may be told so
    duplicate,  ///< seen before: nothing new, acknowledge without delivering again
    store_slow, ///< not committed within the limit (it may still be, later); the sender should try again
};

/// The one way a message arriving from outside (a webhook, a service's request, a fetched update) enters the
/// outbox: senders named, the rows and their source id committed together, counted in /metrics
/// (`messages_in` per connector) and logged as one line.
class Inlet {
public:
    Inlet(Outbox& outbox, Metrics& metrics, Logger& logger,
          std::chrono::milliseconds commit_limit = std::chrono::seconds(10));

    /// `via` says how it came ("webhook", "poller") in the log line. Errors of the store propagate.
    boost::asio::awaitable<InletOutcome> take(const store::Connector& connector, std::string_view via,
                                              Arrival arrival);

private:
    Outbox& outbox_;
    Metrics& metrics_;
    Logger& logger_;
    std::chrono::milliseconds commit_limit_;
};

} // namespace ferry::core
