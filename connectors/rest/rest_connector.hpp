#pragma once

#include "bridge/core/connector.hpp"
#include "connectors/rest/preset.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::http {
class Client;
struct ClientResponse;
} // namespace ferry::http

namespace ferry::connectors::rest {

using formats::Escape;
using formats::JsonTemplate;
using formats::Template;

using core::Connector;
using core::Delivery;
using core::DeliveryResult;

/// Delivers messages to a JSON-over-HTTP service as its preset describes: one request per message built
/// from the preset's templates, the answer read for success, the remote message id, the service's error
/// text and rate-limit hints. 2xx (with the preset's ok_when) is delivered; 429, 5xx, 408 and the preset's
/// transient errors are retried (after the service's Retry-After); other 4xx and refused URLs fail for good.
/// Messages to one destination are spaced by pace_ms.
class RestConnector final : public Connector {
public:
    /// The remote id of the message that the XMPP message `source_id` by `author` (any author when empty)
    /// became in `conversation`, if known; with `thread_root`, the first message of the thread it is in,
    /// when it is in one.
    using RemoteIdLookup = std::function<boost::asio::awaitable<std::optional<std::string>>(
        const std::string& conversation, const std::string& source_id, const std::string& author,
        bool thread_root)>;

    /// `settings` are the connector's own (strings); the preset's defaults fill in the rest. `lookup` finds
    /// the remote ids that corrections, retractions and replies refer to.
    RestConnector(const Preset& preset, const nlohmann::json& settings, http::Client& client,
                  RemoteIdLookup lookup = {});

    boost::asio::awaitable<DeliveryResult> send(const Delivery& delivery) override;
    boost::asio::awaitable<std::vector<DeliveryResult>>
    send_batch(std::vector<const Delivery*> deliveries) override;

    /// The template context of one delivery (exposed for tests and the documentation's examples).
    nlohmann::json context(const Delivery& delivery, const std::string& remote_id = {}) const;

private:
    /// One request built from `spec` and `compiled`, and its outcome.
    struct Compiled {
        const SendSpec* spec = nullptr;
        Template url;
        std::vector<std::pair<std::string, Template>> headers;
        JsonTemplate body;
    };
    static Compiled compile(const SendSpec& spec, const nlohmann::json& body);
    boost::asio::awaitable<DeliveryResult> request(const Compiled& compiled, const Delivery& delivery,
                                                   const nlohmann::json& ctx);
    DeliveryResult judge(const SendSpec& spec, const http::ClientResponse& response) const;
    std::chrono::milliseconds pace_wait(const std::string& destination) const;

    nlohmann::json settings_;
    Compiled send_;
    std::optional<Compiled> edit_;
    std::optional<Compiled> retract_;
    http::Client& client_;
    RemoteIdLookup lookup_;
    bool allow_private_ = false;
    std::chrono::milliseconds pace_{0};
    std::chrono::milliseconds timeout_{30000};
    std::map<std::string, std::chrono::steady_clock::time_point> next_send_; ///< by destination
};

/// Checks a connector's settings against its preset (unknown, missing, malformed); throws
/// std::invalid_argument naming the problem.
void check_settings(const Preset& preset, const nlohmann::json& settings);

} // namespace ferry::connectors::rest
