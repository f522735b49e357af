#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::store {

/// Which way a mapping carries messages: `out` XMPP → remote, `in` remote → XMPP, `both` both ways.
/// The names are those of the PostgreSQL enum `mapping_direction`.
enum class Direction { in, out, both };

/// Parses "in", "out" or "both" (exactly, as PostgreSQL spells them); nullopt for anything else.
constexpr std::optional<Direction> parse_direction(std::string_view name) {
    if (name == "in")
        return Direction::in;
    if (name == "out")
        return Direction::out;
    if (name == "both")
        return Direction::both;
    return std::nullopt;
}

/// "in", "out" or "both".
constexpr std::string_view direction_name(Direction direction) {
    switch (direction) {
    case Direction::in:
        return "in";
    case Direction::out:
        return "out";
    case Direction::both:
        return "both";
    }
    return "both";
}

/// True when `direction` carries messages from XMPP to the remote side (out or both).
constexpr bool carries_outbound(Direction direction) {
    return direction != Direction::in;
}

/// True when `direction` carries messages from the remote side to XMPP (in or both).
constexpr bool carries_inbound(Direction direction) {
    return direction != Direction::out;
}

/// One configured remote system (a row of `connectors`): a chat workspace, an SMTP relay, …
struct Connector {
    std::int64_t id = 0;
    std::string name; ///< unique, lowercase; what mappings and routing refer to
    std::string kind; ///< which implementation serves it (a kind of a family under connectors/)
    nlohmann::json settings = nlohmann::json::object();
    bool enabled = true;
};

/// A text setting of `settings` (a connector's), or empty when it is absent or not text.
inline std::string text_setting(const nlohmann::json& settings, std::string_view name) {
    const auto found = settings.find(name);
    return found != settings.end() && found->is_string() ? found->get<std::string>() : std::string();
}

/// Who talks to whom (a row of `mappings`): an XMPP address bound to a remote address of a connector.
struct Mapping {
    std::int64_t id = 0;
    std::string xmpp_address; ///< a bare JID (user or MUC room); normalised by MappingSnapshot
    std::int64_t connector_id = 0;
    std::string connector_name; ///< filled in from connector_id by MappingSnapshot
    std::string remote_address; ///< as the connector spells it; compared byte for byte
    Direction direction = Direction::both;
    nlohmann::json options = nlohmann::json::object();
    bool enabled = true;
};

} // namespace ferry::store
