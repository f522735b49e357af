#pragma once

#include "bridge/core/outbox.hpp"
#include "bridge/http/http_types.hpp"

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::store {
class MappingSnapshot;
struct Connector;
} // namespace ferry::store

namespace ferry::core {
class Logger;
}

namespace ferry::connectors::rest {

struct Preset;
struct ReceiveSpec;

/// What a chat service's request to Ferry (Slack Events, Mattermost/Rocket.Chat/Slack outgoing webhooks,
/// Matrix application-service transactions, Telegram updates) becomes, as its preset's `receive` section
/// describes: either an answer right away (a refusal, Slack's url_verification challenge, nothing to
/// bridge) or outbox rows plus the key that makes a redelivery a duplicate and the answer to give once
/// they are committed.
struct ServiceReading {
    std::optional<http::Response> answer_now;
    std::vector<core::OutboxEntry> entries;
    std::optional<core::SourceKey> source;
    http::Response answer_after_commit;
    std::string summary; ///< for the log line
};

/// The messages in a service's payload (already verified, or fetched by Ferry itself as with Telegram's
/// getUpdates), for the mappings of their channels; `id` makes a redelivery a duplicate (may be empty).
ServiceReading messages_from(const ReceiveSpec& spec, const store::MappingSnapshot& snapshot,
                             const store::Connector& connector, const nlohmann::json& body,
                             const std::string& id, core::Logger& logger);

/// Verifies and reads one request. `subpath` is what followed `/hooks/<connector>` (Matrix puts
/// `/_matrix/app/v1/transactions/<txnId>` there). Events from channels no mapping takes are acknowledged and
/// logged, not refused: services retry refusals (a Matrix homeserver forever) and disable endpoints that
/// keep failing.
ServiceReading read_service_request(const ReceiveSpec& spec, const store::MappingSnapshot& snapshot,
                                    const store::Connector& connector, const http::Request& request,
                                    std::string_view subpath, std::chrono::system_clock::time_point now,
                                    core::Logger& logger);

} // namespace ferry::connectors::rest
