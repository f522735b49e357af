#include "bridge/core/inlet.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/pg/within.hpp"
#include "bridge/store/mapping.hpp"

namespace ferry::core {

namespace asio = boost::asio;

Inlet::Inlet(Outbox& outbox, Metrics& metrics, Logger& logger, std::chrono::milliseconds commit_limit)
    : outbox_(outbox), metrics_(metrics), logger_(logger), commit_limit_(commit_limit) {}

asio::awaitable<InletOutcome> Inlet::take(const store::Connector& connector, std::string_view via,
                                          Arrival arrival) {
    if (arrival.names_from != nullptr)
        co_await arrival.names_from->complete(connector, arrival.entries);
    const std::size_t count = arrival.entries.size();
    const std::optional<EnqueueResult> result = co_await pg::within(
        commit_limit_, outbox_.enqueue(std::move(arrival.entries), std::move(arrival.source)));
    const std::string prefix = std::string(via) + " " + connector.name + ": " + arrival.summary;
    if (!result) {
        logger_.warning(prefix + " → not committed within " + std::to_string(commit_limit_.count()) + " ms");
        co_return InletOutcome::store_slow;
    }
    if (*result == EnqueueResult::duplicate) {
        logger_.info(prefix + " → already seen, nothing new");
        co_return InletOutcome::duplicate;
    }
    for (std::size_t i = 0; i < count; ++i)
        metrics_.message_in(connector.name);
    logger_.info(prefix + " → " + std::to_string(count) + " message(s) committed");
    co_return InletOutcome::committed;
}

} // namespace ferry::core
