#include "connectors/registry.hpp"

#include "bridge/core/logger.hpp"
#include "connectors/log/log_connector.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/rest_connector.hpp"
#include "mappings/mapping_store.hpp"
#include "mappings/message_map.hpp"
#include "mappings/pg/pool.hpp"

namespace ferry::connectors {

ConnectorRegistry::ConnectorRegistry(const mappings::MappingStore& store, http::Client& http, pg::Pool& pool,
                                     core::Logger& logger)
    : store_(store), http_(http), pool_(pool), logger_(logger) {}

bool ConnectorRegistry::known_kind(const std::string& kind) {
    return kind == "log" || kind == "alertmanager" || kind == "grafana" || kind == "webhook" ||
           rest::find_preset(kind) != nullptr;
}

std::unique_ptr<Connector> ConnectorRegistry::make(const mappings::Connector& row) {
    try {
        if (row.kind == "log") {
            const auto path = row.settings.find("path");
            if (path == row.settings.end() || !path->is_string()) {
                logger_.error("connector " + row.name + ": the log connector needs a `path` setting");
                return nullptr;
            }
            return std::make_unique<LogConnector>(path->get<std::string>());
        }
        if (row.kind == "alertmanager" || row.kind == "grafana" || row.kind == "webhook") {
            logger_.error("connector " + row.name + ": a " + row.kind +
                          " connector only receives, it delivers nothing");
            return nullptr;
        }
        if (const rest::Preset* preset = rest::find_preset(row.kind)) {
            if (!preset->send) {
                logger_.error("connector " + row.name + ": a " + row.kind + " connector only receives");
                return nullptr;
            }
            auto lookup = [&pool = pool_, id = row.id](const std::string& conversation,
                                                       const std::string& source_id,
                                                       const std::string& author, bool thread_root) {
                return mappings::message_map::service_counterpart(pool, id, conversation, source_id, author,
                                                                  thread_root);
            };
            return std::make_unique<rest::RestConnector>(*preset, row.settings, http_, std::move(lookup));
        }
        logger_.error("connector " + row.name + ": unknown kind " + row.kind);
    } catch (const std::exception& e) {
        logger_.error("connector " + row.name + ": cannot start: " + e.what());
    }
    return nullptr;
}

Connector* ConnectorRegistry::find(std::int64_t connector_id) {
    const auto snapshot = store_.snapshot();
    const mappings::Connector* row = snapshot->connector(connector_id);
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

} // namespace ferry::connectors
