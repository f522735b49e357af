#include "bridge/store/mapping_snapshot.hpp"

#include "bridge/xmpp/jid.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>
#include <utility>

namespace ferry::store {

namespace {

std::size_t combine(std::size_t seed, std::string_view part) noexcept {
    // boost::hash_combine's mixing step.
    return seed ^ (std::hash<std::string_view>{}(part) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

const std::vector<const Mapping*>& no_mappings() {
    static const std::vector<const Mapping*> empty;
    return empty;
}

} // namespace

std::size_t MappingSnapshot::KeyHash::operator()(const RouteKey& key) const noexcept {
    return combine(combine(std::hash<std::string_view>{}(key.xmpp), key.connector), key.remote);
}

std::size_t MappingSnapshot::KeyHash::operator()(const RemoteKey& key) const noexcept {
    return combine(std::hash<std::string_view>{}(key.connector), key.remote);
}

std::size_t MappingSnapshot::KeyHash::operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>{}(key);
}

MappingSnapshot::MappingSnapshot(std::vector<Connector> connectors, std::vector<Mapping> mappings)
    : connectors_(std::move(connectors)), mappings_(std::move(mappings)) {
    const auto by_id = [](const auto& a, const auto& b) { return a.id < b.id; };
    std::ranges::sort(connectors_, by_id);
    std::ranges::sort(mappings_, by_id);

    by_name_.reserve(connectors_.size());
    for (const Connector& c : connectors_) {
        by_name_.emplace(c.name, &c);
        by_id_.emplace(c.id, &c);
    }

    std::unordered_set<RouteKey, KeyHash> seen;
    seen.reserve(mappings_.size());
    for (Mapping& m : mappings_) {
        const auto found = by_id_.find(m.connector_id);
        const Connector* connector = found == by_id_.end() ? nullptr : found->second;
        m.connector_name = connector ? connector->name : std::string();
        const auto jid = xmpp::Jid::parse(m.xmpp_address);
        const bool bare_jid = jid && jid->is_bare();
        if (bare_jid)
            m.xmpp_address = jid->bare_string();
        if (!m.enabled || (connector && !connector->enabled))
            continue;
        std::string reason;
        if (!connector)
            reason = "unknown connector " + std::to_string(m.connector_id);
        else if (!bare_jid)
            reason = "xmpp_address is not a valid bare JID";
        else if (!seen.insert(RouteKey{m.xmpp_address, m.connector_name, m.remote_address}).second)
            reason = "same xmpp_address, connector and remote_address as an earlier mapping";
        if (!reason.empty()) {
            rejected_.push_back(RejectedMapping{m.id, std::move(reason)});
            continue;
        }
        index(m);
    }
}

void MappingSnapshot::index(const Mapping& mapping) {
    ++routable_;
    if (carries_outbound(mapping.direction))
        outbound_.emplace(RouteKey{mapping.xmpp_address, mapping.connector_name, mapping.remote_address},
                          &mapping);
    if (carries_inbound(mapping.direction)) {
        inbound_[RemoteKey{mapping.connector_name, mapping.remote_address}].push_back(&mapping);
        inbound_by_connector_[mapping.connector_name].push_back(&mapping);
    }
    by_xmpp_[mapping.xmpp_address].push_back(&mapping);
}

const Mapping* MappingSnapshot::outbound(std::string_view xmpp_bare_jid, std::string_view connector_name,
                                         std::string_view remote_address) const {
    const auto found = outbound_.find(RouteKey{xmpp_bare_jid, connector_name, remote_address});
    return found == outbound_.end() ? nullptr : found->second;
}

const std::vector<const Mapping*>& MappingSnapshot::inbound(std::string_view connector_name,
                                                            std::string_view remote_address) const {
    const auto found = inbound_.find(RemoteKey{connector_name, remote_address});
    return found == inbound_.end() ? no_mappings() : found->second;
}

const std::vector<const Mapping*>& MappingSnapshot::inbound_of(std::string_view connector_name) const {
    const auto found = inbound_by_connector_.find(connector_name);
    return found == inbound_by_connector_.end() ? no_mappings() : found->second;
}

const Mapping* MappingSnapshot::mapping(std::int64_t id) const {
    const auto found = std::ranges::lower_bound(mappings_, id, {}, &Mapping::id);
    return found != mappings_.end() && found->id == id ? &*found : nullptr;
}

const Connector* MappingSnapshot::connector(std::string_view name) const {
    const auto found = by_name_.find(name);
    return found == by_name_.end() ? nullptr : found->second;
}

const Connector* MappingSnapshot::connector(std::int64_t id) const {
    const auto found = by_id_.find(id);
    return found == by_id_.end() ? nullptr : found->second;
}

const std::vector<const Mapping*>& MappingSnapshot::mappings_for(std::string_view xmpp_bare_jid) const {
    const auto found = by_xmpp_.find(xmpp_bare_jid);
    return found == by_xmpp_.end() ? no_mappings() : found->second;
}

} // namespace ferry::store
