#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::text {

/// `text` made safe for one log line: control characters (C0, DEL, C1) written as visible escapes (`\n`,
/// `\x1b`, `\u0085`), ill-formed UTF-8 bytes as `\xNN`; everything else as it is. A value from outside can
/// then neither start a forged line nor move a terminal's cursor.
std::string log_safe(std::string_view text);

/// An outside value for a log line or an error message: made log-safe, and cut after `max_bytes` bytes with
/// the number of bytes left out (`…(+1048000 bytes)`), in double quotes.
std::string quoted(std::string_view value, std::size_t max_bytes = 120);

/// Like quoted(), without the quotes.
std::string shortened(std::string_view value, std::size_t max_bytes = 120);

} // namespace ferry::text
