#pragma once

#include "bridge/core/connector.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace ferry::store {
struct Connector;
class MappingStore;
} // namespace ferry::store

namespace ferry::core {

class Logger;
class RunningFamilies;

/// The running outbound connectors, one per configured connector that sends, each made by the family of its
/// kind from the connector's row in the current mapping snapshot and made again when its settings change. A
/// disabled, unknown or receive-only connector yields nullptr: its outbox rows wait.
class ConnectorRegistry {
public:
    ConnectorRegistry(const store::MappingStore& store, RunningFamilies& families, Logger& logger);
    ConnectorRegistry(const ConnectorRegistry&) = delete;
    ConnectorRegistry& operator=(const ConnectorRegistry&) = delete;

    /// The running connector for `connector_id`, or nullptr.
    Connector* find(std::int64_t connector_id);

private:
    struct Instance {
        std::string settings; ///< the settings it was made with, serialised
        std::unique_ptr<Connector> connector;
    };
    std::unique_ptr<Connector> make(const store::Connector& row);

    const store::MappingStore& store_;
    RunningFamilies& families_;
    Logger& logger_;
    std::map<std::int64_t, Instance> instances_;
};

} // namespace ferry::core
