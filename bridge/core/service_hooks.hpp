#pragma once

#include "bridge/core/outbox.hpp"
#include "bridge/http/http_types.hpp"

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors::rest {
struct ReceiveSpec;
}
namespace ferry::mappings {
class MappingSnapshot;
struct Connector;
} // namespace ferry::mappings

namespace ferry::core {

class Logger;

/// What a chat service's request to Ferry (Slack Events, Mattermost/Rocket.Chat/Slack outgoing webhooks,
/// Matrix application-service transactions, Telegram updates) becomes, as its preset's `receive` section
/// describes: either an answer right away (a refusal, Slack's url_verification challenge, nothing to
/// bridge) or outbox rows plus the key that makes a redelivery a duplicate and the answer to give once
/// they are committed.
struct ServiceRequest {
    std::optional<http::Response> answer_now;
    std::vector<OutboxEntry> entries;
    std::optional<SourceKey> source;
    http::Response answer_after_commit;
    std::string summary; ///< for the log line
};

/// The messages in a service's payload (already verified, or fetched by Ferry itself as with Telegram's
/// getUpdates), for the mappings of their channels; `id` makes a redelivery a duplicate (may be empty).
ServiceRequest messages_from(const connectors::rest::ReceiveSpec& spec,
                             const mappings::MappingSnapshot& snapshot, const mappings::Connector& connector,
                             const nlohmann::json& body, const std::string& id, Logger& logger);

/// Verifies and reads one request. `subpath` is what followed `/hooks/<connector>` (Matrix puts
/// `/_matrix/app/v1/transactions/<txnId>` there). Events from channels no mapping takes are acknowledged and
/// logged, not refused: services retry refusals (a Matrix homeserver forever) and disable endpoints that
/// keep failing.
ServiceRequest read_service_request(const connectors::rest::ReceiveSpec& spec,
                                    const mappings::MappingSnapshot& snapshot,
                                    const mappings::Connector& connector, const http::Request& request,
                                    std::string_view subpath, std::chrono::system_clock::time_point now,
                                    Logger& logger);

} // namespace ferry::core
