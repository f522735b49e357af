#include "connectors/email/reply_trimmer.hpp"

#include <array>
#include <regex>
#include <vector>

namespace ferry::connectors::email {

namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t at = 0;
    while (at <= text.size()) {
        const std::size_t end = text.find('\n', at);
        lines.push_back(text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
        if (end == std::string_view::npos)
            break;
        at = end + 1;
    }
    return lines;
}

bool blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

/// Outlook's rule above its header block: a line of underscores.
bool separator(std::string_view line) {
    while (line.ends_with('\r'))
        line.remove_suffix(1);
    return line.size() >= 10 && line.find_first_not_of('_') == std::string_view::npos;
}

bool quoted(std::string_view line) {
    return line.starts_with('>');
}

/// The attribution lines of the common mail clients, in the languages they are used most in.
const std::array<std::regex, 9>& attributions() {
    static const std::array<std::regex, 9> patterns = {
        std::regex(R"(^\s*On\s.+\swrote:\s*$)", std::regex::icase),
        std::regex(R"(^\s*Am\s.+\sschrieb.*:\s*$)", std::regex::icase),
        std::regex(R"(^\s*Le\s.+\sa\s\xc3\xa9crit\s?:\s*$)", std::regex::icase),
        std::regex(R"(^\s*El\s.+\sescribi\xc3\xb3:\s*$)", std::regex::icase),
        std::regex(R"(^\s*Il\s.+\sha\sscritto:\s*$)", std::regex::icase),
        std::regex(R"(^\s*Op\s.+\sschreef.*:\s*$)", std::regex::icase),
        std::regex(R"(^\s*Em\s.+\sescreveu:\s*$)", std::regex::icase),
        std::regex(R"(^\s*W dniu\s.+\snapisa\xc5\x82.*:\s*$)", std::regex::icase),
        std::regex(
            R"(^\s*-{2,}\s*(Original Message|Urspr\xc3\xbcngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}\s*$)",
            std::regex::icase),
    };
    return patterns;
}

bool attribution(std::string_view line) {
    if (line.size() > 500) // no attribution is this long; the patterns need not look
        return false;
    const std::string text(line);
    for (const std::regex& pattern : attributions())
        if (std::regex_match(text, pattern))
            return true;
    return false;
}

bool starts_with_field(std::string_view line, std::initializer_list<std::string_view> names) {
    for (std::string_view name : names)
        if (line.size() > name.size() && line.substr(0, name.size()) == name)
            return true;
    return false;
}

/// Outlook's block: From: then, within the next lines, Sent:/Date: and To:/Subject:.
bool outlook_header(const std::vector<std::string_view>& lines, std::size_t at) {
    if (!starts_with_field(lines[at], {"From: ", "Von: ", "De : ", "De: "}))
        return false;
    bool sent = false;
    bool to = false;
    for (std::size_t i = at + 1; i < lines.size() && i <= at + 5; ++i) {
        sent = sent || starts_with_field(lines[i], {"Sent: ", "Date: ", "Gesendet: ", "Envoy\xc3\xa9 : "});
        to = to || starts_with_field(lines[i], {"To: ", "Subject: ", "An: ", "Betreff: ", "\xc3\x80 : "});
    }
    return sent && to;
}

/// Where the quote of the answered mail (or the signature) begins; lines.size() when it does not.
std::size_t quote_start(const std::vector<std::string_view>& lines) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line == "-- " || line == "-- \r" || attribution(line))
            return i;
        if (outlook_header(lines, i))
            return i > 0 && separator(lines[i - 1]) ? i - 1 : i;
        // An attribution broken over two lines ("On Mon, 7 Dec 2026, Bob <bob@example.com>" / "wrote:").
        if (i + 1 < lines.size() && !blank(line) && !blank(lines[i + 1]) && lines[i].size() < 200 &&
            attribution(std::string(line) + " " + std::string(lines[i + 1])))
            return i;
    }
    // No marker: a block of quoted lines (and blanks) at the very end.
    std::size_t start = lines.size();
    while (start > 0 && (quoted(lines[start - 1]) || blank(lines[start - 1])))
        --start;
    while (start < lines.size() && blank(lines[start]))
        ++start;
    return start < lines.size() && quoted(lines[start]) ? start : lines.size();
}

} // namespace

TrimmedReply trim_reply(std::string_view text) {
    const std::vector<std::string_view> lines = lines_of(text);
    const std::size_t cut = quote_start(lines);
    std::size_t keep = cut;
    while (keep > 0 && (blank(lines[keep - 1]) || separator(lines[keep - 1])))
        --keep;
    if (cut == lines.size() || keep == 0)
        return {std::string(text), 0};
    std::size_t cut_lines = 0;
    for (std::size_t i = cut; i < lines.size(); ++i)
        cut_lines += blank(lines[i]) ? 0 : 1;
    if (cut_lines == 0)
        return {std::string(text), 0};
    std::string kept;
    for (std::size_t i = 0; i < keep; ++i) {
        std::string_view line = lines[i];
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        kept.append(line).append(i + 1 < keep ? "\n" : "");
    }
    return {std::move(kept), cut_lines};
}

} // namespace ferry::connectors::email
