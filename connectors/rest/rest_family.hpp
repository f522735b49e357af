#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors::rest {

/// Chat services that speak JSON over HTTP, one preset each (connectors/rest/presets/*.json: Slack,
/// Mattermost, Rocket.Chat, Discord, Matrix, Telegram, any JSON endpoint): messages out through the preset's
/// `send` requests, in through its `receive` section (a hook the service calls, or long polling Ferry runs as
/// a source), senders named from the service's user directory.
class RestFamily final : public core::Family {
public:
    std::string_view name() const override { return "rest"; }
    const std::vector<core::KindSpec>& kinds() const override;
    std::unique_ptr<core::RunningFamily> start(const core::FamilyContext& context) const override;
};

} // namespace ferry::connectors::rest
