#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::text {

/// Decodes the code point at text[pos] and advances pos past it; nullopt (pos unchanged) for an ill-formed
/// sequence: a stray continuation byte, a truncated sequence, an overlong form, a surrogate, or a value
/// above U+10FFFF.
std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& pos);

/// True when `text` is well-formed UTF-8.
bool valid_utf8(std::string_view text);

/// `text` with control characters (C0, DEL, C1) and invalid UTF-8 bytes replaced by '?': safe to show in a
/// terminal or an error message.
std::string printable(std::string_view text);

/// `text` with ASCII letters lowercased; other bytes unchanged (whatever the locale).
std::string ascii_lowercase(std::string_view text);

/// Appends the UTF-8 encoding of `code_point` (which must be a Unicode scalar value).
void append_utf8(std::string& out, char32_t code_point);

/// The XML 1.0 `Char` production: #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF. Anything else
/// in a stream makes the receiving server close it (not-well-formed).
constexpr bool is_xml_char(char32_t c) {
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
           (c >= 0x10000 && c <= 0x10ffff);
}

/// The longest prefix of `text` of at most `max_bytes` bytes that does not cut a UTF-8 sequence in two.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

} // namespace ferry::text
