#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace ferry::text {

/// JSON from outside (a webhook body, a service's answer) that Ferry will not take; what() is a short reason
/// fit for an HTTP 400 answer and a log line.
class JsonInputError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// Nesting far above any real payload and far below what recursion over the document can take.
constexpr std::size_t max_json_depth = 128;

/// What to do with U+0000 in a string, which PostgreSQL cannot store.
enum class JsonNul {
    refuse,  ///< a JsonInputError: for a request, whose sender is told why
    replace, ///< U+FFFD instead: for a service's answer, which would otherwise be refused every time it comes
};

/// Parses JSON that came from outside. Besides malformed JSON it refuses nesting deeper than `max_depth` and
/// a number out of the range of a double (1e400, a 5,000-digit integer), each with a JsonInputError whose
/// reason quotes at most a few dozen bytes of the input; U+0000 in a string as `nul` says.
nlohmann::json parse_json(std::string_view text, JsonNul nul = JsonNul::refuse,
                          std::size_t max_depth = max_json_depth);

} // namespace ferry::text
