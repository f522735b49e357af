#pragma once

#include "bridge/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string_view>

namespace ferry::mappings {
class MappingStore;
}

namespace ferry::core {

class Logger;
class Metrics;
class Outbox;

/// `POST /hooks/<connector>`: a connector of a webhook kind (today `alertmanager`) receives a payload,
/// checks its token, turns it into messages for the mappings that take it, and answers 2xx only once
/// those are committed to the outbox. Every refusal is a JSON `{"error": reason}` with a 4xx status;
/// nothing is enqueued then.
class Webhooks {
public:
    Webhooks(const mappings::MappingStore& store, Outbox& outbox, Metrics& metrics, Logger& logger,
             std::chrono::milliseconds commit_timeout = std::chrono::seconds(10));

    /// True for connector kinds served here.
    static bool serves_kind(std::string_view kind);
    boost::asio::awaitable<http::Response> handle(const http::Request& request, std::string_view hook);

private:
    const mappings::MappingStore& store_;
    Outbox& outbox_;
    Metrics& metrics_;
    Logger& logger_;
    std::chrono::milliseconds commit_timeout_;
};

} // namespace ferry::core
