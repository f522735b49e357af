#pragma once

#include "bridge/store/mapping.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry::store {

/// A mapping that is enabled, of an enabled connector, and still cannot be routed.
struct RejectedMapping {
    std::int64_t id = 0;
    std::string reason; ///< e.g. "unknown connector 7", "xmpp_address is not a bare JID"
};

/// An immutable, indexed image of the connectors and mappings tables, shared by the router through
/// `std::shared_ptr<const MappingSnapshot>`; MappingStore builds a new one per reload and swaps it in.
///
/// Only enabled mappings of enabled connectors are routable. XMPP addresses are normalised as
/// xmpp::Jid::bare_string() does (ASCII lowercased), so callers pass a Jid's bare_string(); connector names
/// and remote addresses are compared byte for byte (connectors normalise their own addresses).
///
/// The indexes are hash maps whose keys are views into the snapshot's own strings: a lookup with
/// string_views hashes them and allocates nothing. Results point into the snapshot and live as long as it.
class MappingSnapshot {
public:
    /// An empty snapshot: no connectors, nothing routable.
    MappingSnapshot() = default;
    /// Indexes `connectors` and `mappings`. Each mapping's connector_name is taken from its connector_id;
    /// mappings whose connector is unknown, whose XMPP address is not a valid bare JID, or that repeat
    /// another's (address, connector, remote address) after normalisation are listed in rejected() instead.
    MappingSnapshot(std::vector<Connector> connectors, std::vector<Mapping> mappings);
    // The indexes hold views into the members: neither copied nor moved.
    MappingSnapshot(const MappingSnapshot&) = delete;
    MappingSnapshot& operator=(const MappingSnapshot&) = delete;

    /// The routable mapping that carries messages from `xmpp_bare_jid` to `remote_address` of the connector
    /// named `connector_name` (direction out or both), or null. O(1).
    const Mapping* outbound(std::string_view xmpp_bare_jid, std::string_view connector_name,
                            std::string_view remote_address) const;
    /// The routable mappings that carry messages from `remote_address` of `connector_name` to XMPP
    /// (direction in or both), ordered by id; empty when there are none. O(1).
    const std::vector<const Mapping*>& inbound(std::string_view connector_name,
                                               std::string_view remote_address) const;
    /// Every routable mapping of the connector named `connector_name` that carries messages to XMPP
    /// (direction in or both), whatever its remote address, ordered by id. For connectors that pick mappings
    /// by matching their remote address against the input (label matchers). O(1).
    const std::vector<const Mapping*>& inbound_of(std::string_view connector_name) const;
    /// The mapping with this id, routable or not, or null. O(log n).
    const Mapping* mapping(std::int64_t id) const;
    /// The connector named `name`, enabled or not (check `enabled`), or null. O(1).
    const Connector* connector(std::string_view name) const;
    /// The connector with this id, enabled or not, or null. O(1).
    const Connector* connector(std::int64_t id) const;
    /// Every routable mapping of `xmpp_bare_jid`, whatever its direction, ordered by id. O(1).
    const std::vector<const Mapping*>& mappings_for(std::string_view xmpp_bare_jid) const;

    /// Number of routable mappings.
    std::size_t size() const { return routable_; }
    /// Every connector given, ordered by id.
    const std::vector<Connector>& connectors() const { return connectors_; }
    /// Every mapping given (routable or not), ordered by id, with normalised addresses.
    const std::vector<Mapping>& mappings() const { return mappings_; }
    /// Enabled mappings of enabled connectors that could not be routed, and why, ordered by id.
    const std::vector<RejectedMapping>& rejected() const { return rejected_; }

private:
    struct RouteKey {
        std::string_view xmpp;
        std::string_view connector;
        std::string_view remote;
        bool operator==(const RouteKey&) const = default;
    };
    struct RemoteKey {
        std::string_view connector;
        std::string_view remote;
        bool operator==(const RemoteKey&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const RouteKey& key) const noexcept;
        std::size_t operator()(const RemoteKey& key) const noexcept;
        std::size_t operator()(std::string_view key) const noexcept;
    };
    using MappingList = std::vector<const Mapping*>;

    void index(const Mapping& mapping);

    std::vector<Connector> connectors_;
    std::vector<Mapping> mappings_;
    std::vector<RejectedMapping> rejected_;
    std::size_t routable_ = 0;
    std::unordered_map<std::string_view, const Connector*, KeyHash> by_name_;
    std::unordered_map<std::int64_t, const Connector*> by_id_;
    std::unordered_map<RouteKey, const Mapping*, KeyHash> outbound_;
    std::unordered_map<RemoteKey, MappingList, KeyHash> inbound_;
    std::unordered_map<std::string_view, MappingList, KeyHash> by_xmpp_;
    std::unordered_map<std::string_view, MappingList, KeyHash> inbound_by_connector_;
};

} // namespace ferry::store
