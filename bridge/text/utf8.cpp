#include "bridge/text/utf8.hpp"

#include <array>

namespace ferry::text {

std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& pos) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    std::size_t length = 0;
    if ((lead & 0xe0) == 0xc0)
        length = 2;
    else if ((lead & 0xf0) == 0xe0)
        length = 3;
    else if ((lead & 0xf8) == 0xf0)
        length = 4;
    else
        return std::nullopt;
    constexpr std::array<char32_t, 5> minimum{0, 0, 0x80, 0x800, 0x10000};
    char32_t code = lead & (0x7f >> length);
    if (text.size() - pos < length)
        return std::nullopt;
    for (std::size_t i = 1; i < length; ++i) {
        const auto byte = static_cast<unsigned char>(text[pos + i]);
        if ((byte & 0xc0) != 0x80)
            return std::nullopt;
        code = (code << 6) | (byte & 0x3f);
    }
    if (code < minimum[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return std::nullopt;
    pos += length;
    return code;
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        std::size_t next = at;
        const std::optional<char32_t> code_point = decode_utf8(text, next);
        if (!code_point) {
            out += '?';
            ++at;
            continue;
        }
        const char32_t c = *code_point;
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
            out += '?';
        else
            out.append(text.substr(at, next - at));
        at = next;
    }
    return out;
}

bool valid_utf8(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();)
        if (!decode_utf8(text, pos))
            return false;
    return true;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xc0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xe0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
        out.push_back(static_cast<char>(0xf0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes)
        return text;
    std::size_t end = max_bytes;
    // Step back over continuation bytes to the start of the sequence that would be cut.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80)
        --end;
    return text.substr(0, end);
}

std::string ascii_lowercase(std::string_view text) {
    std::string lower(text);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return lower;
}

} // namespace ferry::text
