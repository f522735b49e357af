#pragma once

#include "bridge/core/family.hpp"

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::core {

/// The families of one `ferry run`, each started once with the core's context, found by the kinds they offer.
class RunningFamilies {
public:
    RunningFamilies(const FamilyList& families, const FamilyContext& context);
    RunningFamilies(const RunningFamilies&) = delete;
    RunningFamilies& operator=(const RunningFamilies&) = delete;

    const KindSpec* kind(std::string_view name) const { return families_.find_kind(name); }
    /// The running family that offers the kind `name`, or null.
    RunningFamily* of_kind(std::string_view name);
    /// Every family's sources, together, until stop().
    boost::asio::awaitable<void> run_sources();
    void stop();
    /// Offers a stanza to each family in turn; true when one took it.
    bool handle_stanza(const xmpp::InboundStanza& stanza);

private:
    const FamilyList& families_;
    std::vector<std::pair<const Family*, std::unique_ptr<RunningFamily>>> running_;
};

} // namespace ferry::core
