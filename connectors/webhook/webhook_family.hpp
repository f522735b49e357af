#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors::webhook {

/// Any JSON POSTed to `/hooks/<connector>` by a system that can only call a URL: its text picked by JSON
/// Pointer or written by a template, optionally its sender and a target that mappings' remote address match.
class WebhookFamily final : public core::Family {
public:
    std::string_view name() const override { return "webhook"; }
    const std::vector<core::KindSpec>& kinds() const override;
    std::unique_ptr<core::RunningFamily> start(const core::FamilyContext& context) const override;
};

} // namespace ferry::connectors::webhook
