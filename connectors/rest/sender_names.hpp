#pragma once

#include "bridge/core/inlet.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ferry::http {
class Client;
}
namespace ferry::store {
struct Connector;
}

namespace ferry::core {
class Logger;
}

namespace ferry::connectors::rest {

struct Preset;
struct ReceiveSpec;

/// Display names of a chat service's users, asked of the service as its preset's `receive.profile` says
/// (Slack users.info, a Matrix profile) and kept for an hour, so that a remote sender speaks in XMPP as
/// `Alice (slack)` rather than `U061F7AUR (slack)`. An answer that fails or takes longer than its short
/// limit leaves the id: no message waits for a name, and a hook answers within the service's deadline.
class SenderNames final : public core::SenderNaming {
public:
    SenderNames(http::Client& client, core::Logger& logger);

    /// Sets `sender_name` in the rows (outbox payloads) that have a sender but no name, as the preset of the
    /// connector's kind asks its service.
    boost::asio::awaitable<void> complete(const store::Connector& connector,
                                          std::vector<core::OutboxEntry>& entries) override;

private:
    /// The name, or empty when the service gives none (cached either way).
    boost::asio::awaitable<std::string> name_of(const Preset& preset, const store::Connector& connector,
                                                const std::string& sender);

    struct Known {
        std::string name;
        std::chrono::steady_clock::time_point until;
    };
    http::Client& client_;
    core::Logger& logger_;
    std::map<std::pair<std::int64_t, std::string>, Known> known_; ///< by (connector id, sender)
};

} // namespace ferry::connectors::rest
