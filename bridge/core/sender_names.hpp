#pragma once

#include "bridge/core/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ferry::connectors::rest {
struct Preset;
}
namespace ferry::http {
class Client;
}
namespace ferry::mappings {
struct Connector;
}

namespace ferry::core {

class Logger;

/// Display names of a chat service's users, asked of the service as its preset's `receive.profile` says
/// (Slack users.info, a Matrix profile) and kept for an hour, so that a remote sender speaks in XMPP as
/// `Alice (slack)` rather than `U061F7AUR (slack)`. An answer that fails or takes longer than its short
/// limit leaves the id: no message waits for a name, and a hook answers within the service's deadline.
class SenderNames {
public:
    SenderNames(http::Client& client, Logger& logger);

    /// Sets `sender_name` in the rows (outbox payloads) that have a sender but no name.
    boost::asio::awaitable<void> complete(const connectors::rest::Preset& preset,
                                          const mappings::Connector& connector,
                                          std::vector<OutboxEntry>& entries);

private:
    /// The name, or empty when the service gives none (cached either way).
    boost::asio::awaitable<std::string> name_of(const connectors::rest::Preset& preset,
                                                const mappings::Connector& connector,
                                                const std::string& sender);

    struct Known {
        std::string name;
        std::chrono::steady_clock::time_point until;
    };
    http::Client& client_;
    Logger& logger_;
    std::map<std::pair<std::int64_t, std::string>, Known> known_; ///< by (connector id, sender)
};

} // namespace ferry::core
