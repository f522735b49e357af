#include "bridge/core/connector_registry.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/running_families.hpp"
#include "bridge/store/mapping_store.hpp"

namespace ferry::core {

ConnectorRegistry::ConnectorRegistry(const store::MappingStore& store, RunningFamilies& families,
                                     Logger& logger)
    : store_(store), families_(families), logger_(logger) {}

std::unique_ptr<Connector> ConnectorRegistry::make(const store::Connector& row) {
    const KindSpec* kind = families_.kind(row.kind);
    RunningFamily* family = families_.of_kind(row.kind);
    if (kind == nullptr || family == nullptr) {
        logger_.error("connector " + row.name + ": unknown kind " + row.kind);
        return nullptr;
    }
    if (!kind->sends) {
        logger_.error("connector " + row.name + ": a " + row.kind +
                      " connector only receives, it delivers nothing");
        return nullptr;
    }
    try {
        return family->make_connector(row);
    } catch (const std::exception& e) {
        logger_.error("connector " + row.name + ": cannot start: " + e.what());
    }
    return nullptr;
}

Connector* ConnectorRegistry::find(std::int64_t connector_id) {
    const auto snapshot = store_.snapshot();
    const store::Connector* row = snapshot->connector(connector_id);
    if (row == nullptr || !row->enabled) {
        instances_.erase(connector_id);
        return nullptr;
    }
    const std::string settings = row->settings.dump();
    auto& instance = instances_[connector_id];
    if (!instance.connector || instance.settings != settings) {
        instance.connector = make(*row);
        instance.settings = settings;
    }
    return instance.connector.get();
}

} // namespace ferry::core
