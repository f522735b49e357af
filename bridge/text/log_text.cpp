#include "bridge/text/log_text.hpp"

#include "bridge/text/utf8.hpp"

#include <cstdio>

namespace ferry::text {

namespace {

void append_hex(std::string& out, const char* format, unsigned value) {
    char escaped[12];
    std::snprintf(escaped, sizeof escaped, format, value);
    out += escaped;
}

} // namespace

std::string log_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto byte = static_cast<unsigned char>(text[pos]);
        if (byte >= 0x20 && byte < 0x7f) {
            out += static_cast<char>(byte);
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        const auto code_point = decode_utf8(text, pos);
        if (!code_point) {
            append_hex(out, "\\x%02x", byte);
            pos = start + 1;
        } else if (*code_point == '\n') {
            out += "\\n";
        } else if (*code_point == '\r') {
            out += "\\r";
        } else if (*code_point == '\t') {
            out += "\\t";
        } else if (*code_point < 0x20 || *code_point == 0x7f) {
            append_hex(out, "\\x%02x", static_cast<unsigned>(*code_point));
        } else if (*code_point >= 0x80 && *code_point <= 0x9f) {
            append_hex(out, "\\u%04x", static_cast<unsigned>(*code_point));
        } else {
            out.append(text.substr(start, pos - start));
        }
    }
    return out;
}

std::string shortened(std::string_view value, std::size_t max_bytes) {
    const std::string_view kept = utf8_prefix(value, max_bytes);
    std::string out = log_safe(kept);
    if (kept.size() < value.size())
        out += "\u2026(+" + std::to_string(value.size() - kept.size()) + " bytes)";
    return out;
}

std::string quoted(std::string_view value, std::size_t max_bytes) {
    return "\"" + shortened(value, max_bytes) + "\"";
}

} // namespace ferry::text
