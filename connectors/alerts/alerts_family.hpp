#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors::alerts {

/// Alerting tools that notify over HTTP: Prometheus Alertmanager and Grafana alerting. Their notifications at
/// `POST /hooks/<connector>` become alert messages for the mappings whose label matcher takes them.
class AlertsFamily final : public core::Family {
public:
    std::string_view name() const override { return "alerts"; }
    const std::vector<core::KindSpec>& kinds() const override;
    std::unique_ptr<core::RunningFamily> start(const core::FamilyContext& context) const override;
};

} // namespace ferry::connectors::alerts
