#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::formats {

/// The value at JSON Pointer `pointer` as text: a string as it is, any other value as JSON (numbers as
/// digits). nullopt when the pointer is empty or malformed, or the value is absent or null.
inline std::optional<std::string> text_at(const nlohmann::json& document, std::string_view pointer) {
    if (pointer.empty())
        return std::nullopt;
    try {
        const nlohmann::json& value = document.at(nlohmann::json::json_pointer(std::string(pointer)));
        if (value.is_string())
            return value.get<std::string>();
        if (value.is_null())
            return std::nullopt;
        return value.dump();
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

} // namespace ferry::formats
