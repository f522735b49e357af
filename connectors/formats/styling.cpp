#include "connectors/formats/styling.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace ferry::formats {

namespace {

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            lines.push_back(text.substr(start));
            return lines;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
}

/// How one target writes text and the styling around it.
class Markup {
public:
    explicit Markup(Escape escape) : escape_(escape) {}

    std::string text(std::string_view raw, bool line_start) const {
        std::string out;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            const char c = raw[i];
            switch (escape_) {
            case Escape::mrkdwn:
                out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
                break;
            case Escape::html:
            case Escape::telegram:
                out += c == '&'   ? "&amp;"
                       : c == '<' ? "&lt;"
                       : c == '>' ? "&gt;"
                       : c == '"' ? "&quot;"
                                  : std::string(1, c);
                break;
            case Escape::markdown: {
                static constexpr std::string_view special = "\\`*_~[]()<>|";
                const bool at_start = line_start && i == 0;
                if (special.find(c) != std::string_view::npos ||
                    (at_start && (c == '#' || c == '-' || c == '+')))
                    out += '\\';
                out += c;
                break;
            }
            default:
                out += c;
            }
        }
        return out;
    }
    std::string open(char directive) const { return tag(directive, true); }
    std::string close(char directive) const { return tag(directive, false); }
    std::string line_break() const { return escape_ == Escape::html ? "<br>" : "\n"; }
    bool tags() const { return escape_ == Escape::html || escape_ == Escape::telegram; }

private:
    std::string tag(char directive, bool opening) const {
        if (tags()) {
            const char* name = directive == '*'   ? "strong"
                               : directive == '_' ? "em"
                               : directive == '~' ? (escape_ == Escape::telegram ? "s" : "del")
                                                  : "code";
            return std::string(opening ? "<" : "</") + name + ">";
        }
        if (escape_ == Escape::markdown)
            return directive == '*' ? "**" : directive == '~' ? "~~" : std::string(1, directive);
        return std::string(1, directive);
    }
    Escape escape_;
};

/// XEP-0393 §6.2: a span opens at the start or after whitespace, is followed by non-whitespace, and
/// closes at the first matching directive that follows non-whitespace, on the same line.
std::string spans(std::string_view line, const Markup& markup, bool line_start) {
    std::string out;
    std::size_t plain_from = 0;
    const auto flush = [&](std::size_t to) {
        out += markup.text(line.substr(plain_from, to - plain_from), line_start && plain_from == 0);
    };
    // A directive with no closing mark after one opener has none after any later opener either: remembering
    // that keeps a line of a hundred thousand unmatched `*` linear instead of quadratic.
    std::string_view unclosed;
    std::string unclosed_storage;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c != '*' && c != '_' && c != '~' && c != '`')
            continue;
        if ((i > 0 && !is_space(line[i - 1])) || i + 1 >= line.size() || is_space(line[i + 1]))
            continue;
        if (unclosed.find(c) != std::string_view::npos)
            continue;
        std::size_t close = std::string_view::npos;
        for (std::size_t j = i + 2; j < line.size(); ++j)
            if (line[j] == c && !is_space(line[j - 1])) {
                close = j;
                break;
            }
        if (close == std::string_view::npos) {
            unclosed_storage += c;
            unclosed = unclosed_storage;
            continue;
        }
        flush(i);
        const std::string_view inner = line.substr(i + 1, close - i - 1);
        out += markup.open(c);
        out += c == '`' ? markup.text(inner, false) : spans(inner, markup, false);
        out += markup.close(c);
        i = close;
        plain_from = close + 1;
    }
    flush(line.size());
    return out;
}

std::string percent_encoded(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

} // namespace

std::string styled(std::string_view text, Escape escape) {
    if (escape == Escape::plain)
        return std::string(text);
    if (escape == Escape::url)
        return percent_encoded(text);
    const Markup markup(escape);
    const std::vector<std::string_view> lines = split_lines(text);
    std::string out;
    bool in_quote = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const bool last = i + 1 == lines.size();
        if (line.starts_with("```")) {
            // A preformatted block runs to a line of ``` or to the end of the message.
            std::string body;
            std::size_t j = i + 1;
            for (; j < lines.size() && lines[j] != "```"; ++j)
                body += (body.empty() && j == i + 1 ? "" : "\n") + std::string(lines[j]);
            if (in_quote && markup.tags())
                out += "</blockquote>";
            in_quote = false;
            if (markup.tags())
                out += "<pre>" + markup.text(body, false) + "</pre>";
            else
                out += "```\n" + (escape == Escape::markdown ? body : markup.text(body, false)) + "\n```";
            i = j;
            if (i + 1 < lines.size())
                out += markup.line_break();
            continue;
        }
        if (line.starts_with(">")) {
            std::string_view quoted = line.substr(1);
            if (quoted.starts_with(" "))
                quoted.remove_prefix(1);
            if (markup.tags()) {
                if (!in_quote)
                    out += "<blockquote>";
                else
                    out += markup.line_break();
                in_quote = true;
                out += spans(quoted, markup, false);
                if (last)
                    out += "</blockquote>";
                continue;
            }
            out += "> " + spans(quoted, markup, true);
        } else {
            if (in_quote) {
                out += "</blockquote>";
                in_quote = false;
            }
            out += spans(line, markup, true);
        }
        if (!last)
            out += markup.line_break();
    }
    return out;
}

namespace {

void decode_entities(std::string& text) {
    static constexpr std::pair<std::string_view, char> entities[] = {
        {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool matched = false;
        if (text[i] == '&')
            for (const auto& [entity, c] : entities)
                if (std::string_view(text).substr(i, entity.size()) == entity) {
                    out += c;
                    i += entity.size() - 1;
                    matched = true;
                    break;
                }
        if (!matched)
            out += text[i];
    }
    text = std::move(out);
}

} // namespace

std::string from_mrkdwn(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '<') {
            out += text[i];
            continue;
        }
        const std::size_t end = text.find('>', i);
        if (end == std::string_view::npos) {
            out += text.substr(i);
            break;
        }
        const std::string_view inside = text.substr(i + 1, end - i - 1);
        const std::size_t bar = inside.find('|');
        const std::string_view target = inside.substr(0, bar);
        const std::string_view label =
            bar == std::string_view::npos ? std::string_view() : inside.substr(bar + 1);
        if (target.starts_with("@") || target.starts_with("#"))
            out += std::string(1, target[0]) + std::string(label.empty() ? target.substr(1) : label);
        else if (target.starts_with("!"))
            out += "@" + std::string(label.empty() ? target.substr(1) : label);
        else if (label.empty())
            out += target;
        else
            out += std::string(label) + " <" + std::string(target) + ">";
        i = end;
    }
    decode_entities(out);
    return out;
}

std::string from_entities(std::string_view text, const std::vector<TextEntity>& entities) {
    // The byte where each UTF-16 position starts (both units of a surrogate pair: the character's start).
    std::vector<std::size_t> byte_at;
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t size = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        byte_at.push_back(i);
        if (size == 4)
            byte_at.push_back(i);
        i = std::min(i + size, text.size());
    }
    byte_at.push_back(text.size());
    const auto byte = [&](std::size_t unit) { return byte_at[std::min(unit, byte_at.size() - 1)]; };
    const auto blank = [&](std::size_t at) {
        return text[at] == ' ' || text[at] == '\n' || text[at] == '\t';
    };

    struct Insert {
        std::size_t at;
        bool opens;
        std::size_t other_end; ///< where the range ends (an opening) or starts (a closing): orders nesting
        std::size_t entity;    ///< ranges alike: the first given is the outer one
        std::string text;
    };
    std::vector<Insert> inserts;
    for (std::size_t index = 0; index < entities.size(); ++index) {
        const TextEntity& e = entities[index];
        std::size_t begin = byte(e.offset);
        std::size_t end = byte(e.offset + e.length);
        std::string open;
        std::string close;
        if (e.type == "pre") {
            open = std::string(begin > 0 && text[begin - 1] != '\n' ? "\n" : "") + "```\n";
            close = std::string("\n```") + (end < text.size() && text[end] != '\n' ? "\n" : "");
        } else {
            while (begin < end && blank(begin))
                ++begin;
            while (end > begin && blank(end - 1))
                --end;
            if (e.type == "bold")
                open = close = "*";
            else if (e.type == "italic")
                open = close = "_";
            else if (e.type == "strikethrough")
                open = close = "~";
            else if (e.type == "code")
                open = close = "`";
            else if (e.type == "text_link" && !e.url.empty())
                close = " <" + e.url + ">";
        }
        if (begin >= end || (open.empty() && close.empty()))
            continue;
        inserts.push_back({begin, true, end, index, open});
        inserts.push_back({end, false, begin, index, close});
    }
    // At one place closings come first, the inner range's first; then openings, the outer range's first.
    std::sort(inserts.begin(), inserts.end(), [](const Insert& a, const Insert& b) {
        if (a.at != b.at)
            return a.at < b.at;
        if (a.opens != b.opens)
            return !a.opens;
        if (a.other_end != b.other_end)
            return a.other_end > b.other_end;
        return a.opens ? a.entity < b.entity : a.entity > b.entity;
    });
    std::string out;
    std::size_t copied = 0;
    for (const Insert& insert : inserts) {
        out.append(text.substr(copied, insert.at - copied));
        out += insert.text;
        copied = insert.at;
    }
    out.append(text.substr(copied));
    return out;
}

std::string from_markdown(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\' && i + 1 < text.size() && std::ispunct(static_cast<unsigned char>(text[i + 1]))) {
            out += text[++i];
            continue;
        }
        if (c == '`') {
            // Code (a span or a fenced block) is kept as written, backticks included: XEP-0393 has both.
            std::size_t run = 1;
            while (i + run < text.size() && text[i + run] == '`')
                ++run;
            const std::size_t close = text.find(text.substr(i, run), i + run);
            const std::size_t end = close == std::string_view::npos ? i + run : close + run;
            out.append(text.substr(i, end - i));
            i = end - 1;
            continue;
        }
        if ((c == '*' || c == '_' || c == '~') && i + 1 < text.size() && text[i + 1] == c) {
            out += c == '~' ? '~' : '*';
            ++i;
            continue;
        }
        if (c == '[') {
            const std::size_t close = text.find("](", i);
            const std::size_t end = close == std::string_view::npos ? close : text.find(')', close);
            if (end != std::string_view::npos &&
                text.substr(i, close - i).find('\n') == std::string_view::npos) {
                out += std::string(text.substr(i + 1, close - i - 1)) + " <" +
                       std::string(text.substr(close + 2, end - close - 2)) + ">";
                i = end;
                continue;
            }
        }
        out += c;
    }
    return out;
}

} // namespace ferry::formats
