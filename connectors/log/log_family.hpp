#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors::log {

/// Writes each message as one JSON line to a file: for audits, and as the simplest outbound connector.
class LogFamily final : public core::Family {
public:
    std::string_view name() const override { return "log"; }
    const std::vector<core::KindSpec>& kinds() const override;
    std::unique_ptr<core::RunningFamily> start(const core::FamilyContext& context) const override;
};

} // namespace ferry::connectors::log
