#pragma once

#include "bridge/core/inlet.hpp"
#include "bridge/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

namespace ferry::mappings {
class MappingStore;
class MappingSnapshot;
struct Connector;
} // namespace ferry::mappings
namespace ferry::connectors::rest {
struct Preset;
}

namespace ferry::core {

class Logger;

/// `POST /hooks/<connector>`: a connector of a webhook kind (alertmanager, grafana, webhook, or a preset
/// that receives: slack, mattermost, matrix, telegram, …) receives a payload,
/// checks its token, turns it into messages for the mappings that take it, and answers 2xx only once
/// those are committed to the outbox. Every refusal is a JSON `{"error": reason}` with a 4xx status;
/// nothing is enqueued then.
class Webhooks {
public:
    Webhooks(const mappings::MappingStore& store, Inlet& inlet, Logger& logger);

    /// True for connector kinds served here.
    static bool serves_kind(std::string_view kind);
    /// `subpath` is what followed `/hooks/<hook>` (empty but for Matrix transactions).
    boost::asio::awaitable<http::Response> handle(const http::Request& request, std::string_view hook,
                                                  std::string_view subpath = {});

private:
    boost::asio::awaitable<http::Response> from_service(const connectors::rest::Preset& preset,
                                                        const mappings::MappingSnapshot& snapshot,
                                                        const mappings::Connector& connector,
                                                        const http::Request& request,
                                                        std::string_view subpath);
    /// Commits the arrival; the answer once it is durable (or a duplicate), 503 when the store is too slow.
    boost::asio::awaitable<http::Response> commit(const mappings::Connector& connector, Arrival arrival,
                                                  http::Response on_commit, http::Response on_duplicate);

    const mappings::MappingStore& store_;
    Inlet& inlet_;
    Logger& logger_;
};

} // namespace ferry::core
