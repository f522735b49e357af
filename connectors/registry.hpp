#pragma once

#include "connectors/connector.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ferry::core {
class Logger;
}
namespace ferry::http {
class Client;
}
namespace ferry::pg {
class Pool;
}
namespace ferry::mappings {
struct Connector;
class MappingStore;
} // namespace ferry::mappings

namespace ferry::connectors {

/// The kinds of connector this binary can run, and the running instances, one per configured connector.
/// An instance is made on first use from the connector's row in the current mapping snapshot and made again
/// when its settings change; a disabled or unknown connector yields nullptr (its outbox rows wait).
class ConnectorRegistry {
public:
    /// `http` serves the connectors that speak HTTP (every preset kind).
    /// `pool` finds, in message_map, the remote messages that corrections and retractions refer to.
    ConnectorRegistry(const mappings::MappingStore& store, http::Client& http, pg::Pool& pool,
                      core::Logger& logger);
    ConnectorRegistry(const ConnectorRegistry&) = delete;
    ConnectorRegistry& operator=(const ConnectorRegistry&) = delete;

    /// The running connector for `connector_id`, or nullptr.
    Connector* find(std::int64_t connector_id);
    /// The connector kinds known to this binary (for the CLI's checks).
    static bool known_kind(const std::string& kind);

private:
    struct Instance {
        std::string settings; ///< the settings it was made with, serialised
        std::unique_ptr<Connector> connector;
    };
    std::unique_ptr<Connector> make(const mappings::Connector& row);

    const mappings::MappingStore& store_;
    http::Client& http_;
    pg::Pool& pool_;
    core::Logger& logger_;
    std::map<std::int64_t, Instance> instances_;
};

} // namespace ferry::connectors
