#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors::email {

/// Mail: XMPP users write to any mail address (`bob\40example.com%mail@ferry.example.org`) and get mail back
/// in the same chat. A connector's mappings bind users to their own mail addresses, one by one or a whole
/// domain at once (AddressBook).
class EmailFamily final : public core::Family {
public:
    std::string_view name() const override { return "email"; }
    const std::vector<core::KindSpec>& kinds() const override;
    std::unique_ptr<core::RunningFamily> start(const core::FamilyContext& context) const override;
};

} // namespace ferry::connectors::email
