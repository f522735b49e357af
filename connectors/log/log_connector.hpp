#pragma once

#include "bridge/core/connector.hpp"

#include <string>

namespace ferry::connectors {

using core::Connector;
using core::Delivery;
using core::DeliveryResult;

/// The `log` connector: appends each delivered message as one JSON line to a file (setting `path`).
/// Proves the XMPP → mapping → outbox → delivery path before the real connectors exist, and gives operators
/// an audit trail. Lines carry the idempotency key, so a reader can drop a duplicate delivery.
class LogConnector final : public Connector {
public:
    /// Opens (creating, appending) the file, or later, at the first message that finds it can be opened.
    explicit LogConnector(std::string path);
    ~LogConnector() override;
    LogConnector(const LogConnector&) = delete;
    LogConnector& operator=(const LogConnector&) = delete;

    boost::asio::awaitable<DeliveryResult> send(const Delivery& delivery) override;

private:
    bool open_file();

    std::string path_;
    int fd_ = -1;
};

} // namespace ferry::connectors
