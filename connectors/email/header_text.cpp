#include "connectors/email/header_text.hpp"

#include "bridge/store/accounts/base64.hpp"
#include "bridge/text/utf8.hpp"

#include <algorithm>

namespace ferry::connectors::email {

namespace {

bool breaks_a_line(char32_t c) {
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

} // namespace

std::string header_safe(std::string_view text, std::size_t max_bytes) {
    std::string out;
    std::size_t pos = 0;
    bool space = true; // drops leading white space
    while (pos < text.size()) {
        std::optional<char32_t> c = text::decode_utf8(text, pos);
        if (!c) {
            ++pos;
            c = 0xfffd;
        }
        if (breaks_a_line(*c) || *c == ' ') {
            if (!space)
                out += ' ';
            space = true;
            continue;
        }
        space = false;
        text::append_utf8(out, *c);
    }
    out = std::string(text::utf8_prefix(out, max_bytes));
    while (out.ends_with(' '))
        out.pop_back();
    return out;
}

std::string header_phrase(std::string_view text, std::size_t max_bytes) {
    std::string safe = header_safe(text, max_bytes);
    if (safe.find("=?") == std::string::npos)
        return safe;
    // 45 bytes make 60 base64 characters: with `=?utf-8?b?` and `?=` a word stays within RFC 2047's 75.
    std::string words;
    std::string_view rest = safe;
    while (!rest.empty()) {
        const std::string_view chunk = text::utf8_prefix(rest, 45);
        words += (words.empty() ? "" : " ") + std::string("=?utf-8?b?") + store::to_base64(chunk) + "?=";
        rest.remove_prefix(chunk.size());
    }
    return words;
}

bool is_writable_message_id(std::string_view id) {
    const std::size_t at = id.find('@');
    if (id.size() > 250 || at == 0 || at == std::string_view::npos || at + 1 == id.size())
        return false;
    return std::ranges::all_of(id, [](char c) {
        return c > ' ' && c < 0x7f && c != '<' && c != '>' && c != '"' && c != '(' && c != ')' && c != '\\';
    });
}

} // namespace ferry::connectors::email
