#include "bridge/store/conversations.hpp"

#include <charconv>

namespace ferry::store {

namespace {
constexpr std::string_view prefix = "mapping:";
constexpr std::string_view in_suffix = ":in";
} // namespace

std::string inbound_conversation(std::int64_t mapping_id) {
    return std::string(prefix) + std::to_string(mapping_id) + std::string(in_suffix);
}

std::string inbound_conversation(std::int64_t mapping_id, std::string_view part) {
    return std::string(prefix) + std::to_string(mapping_id) + ":" + std::string(part) +
           std::string(in_suffix);
}

std::string outbound_conversation(std::int64_t mapping_id) {
    return std::string(prefix) + std::to_string(mapping_id) + ":out";
}

std::optional<std::int64_t> inbound_conversation_mapping(std::string_view conversation) {
    if (!conversation.starts_with(prefix) || !conversation.ends_with(in_suffix))
        return std::nullopt;
    const std::string_view rest = conversation.substr(prefix.size());
    const std::string_view digits = rest.substr(0, rest.find(':'));
    std::int64_t id = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
        return std::nullopt;
    return id;
}

bool is_inbound_conversation(std::string_view conversation) {
    return conversation.ends_with(in_suffix);
}

} // namespace ferry::store
