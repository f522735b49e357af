#include "connectors/email/flowed.hpp"

namespace ferry::connectors::email {

namespace {

/// Writes one line of content, quoted `depth` times, as flowed lines of at most `width` bytes where spaces
/// allow it (a word longer than the line stays whole).
void write_line(std::string& out, std::string_view content, std::size_t depth, std::size_t width) {
    const std::string prefix = std::string(depth, '>') + (depth > 0 ? " " : "");
    const std::size_t room = width > prefix.size() + 1 ? width - prefix.size() - 1 : 1;
    const auto stuffed = [depth](std::string_view piece) {
        return depth == 0 && (piece.starts_with(' ') || piece.starts_with('>') || piece.starts_with("From "));
    };
    do {
        std::string_view piece = content;
        if (content.size() > room) {
            // Break after the last space that fits, or else after the first one there is.
            std::size_t cut = content.rfind(' ', room);
            if (cut == std::string_view::npos || cut == 0)
                cut = content.find(' ', room);
            if (cut != std::string_view::npos && cut + 1 < content.size())
                piece = content.substr(0, cut + 1); // the space stays: it marks the soft break
        }
        out += prefix;
        if (stuffed(piece))
            out += ' ';
        out += piece;
        out += '\n';
        content.remove_prefix(piece.size());
    } while (!content.empty());
}

} // namespace

std::string to_flowed(std::string_view text, std::size_t width) {
    std::string out;
    out.reserve(text.size() + text.size() / 16 + 8);
    while (true) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        std::size_t depth = 0;
        while (depth < line.size() && line[depth] == '>')
            ++depth;
        std::string_view content = line.substr(depth);
        if (depth > 0 && content.starts_with(' '))
            content.remove_prefix(1);
        if (content != "-- ")
            while (content.ends_with(' '))
                content.remove_suffix(1);
        write_line(out, content, depth, width);
        if (end == std::string_view::npos)
            break;
        text.remove_prefix(end + 1);
    }
    return out;
}

std::string from_flowed(std::string_view body, bool delsp) {
    std::string out;
    std::string paragraph; // the logical line being joined
    std::size_t paragraph_depth = 0;
    bool open = false; // the last line ended in a soft break
    const auto flush = [&] {
        out += (paragraph_depth > 0 ? std::string(paragraph_depth, '>') + " " : std::string()) + paragraph +
               "\n";
        paragraph.clear();
        open = false;
    };
    while (!body.empty()) {
        const std::size_t end = body.find('\n');
        std::string_view line = body.substr(0, end);
        body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
        std::size_t depth = 0;
        while (depth < line.size() && line[depth] == '>')
            ++depth;
        line.remove_prefix(depth);
        if (line.starts_with(' '))
            line.remove_prefix(1); // space-stuffing
        if (open && depth != paragraph_depth)
            flush(); // a soft break never joins lines of different depths
        paragraph_depth = depth;
        const bool soft = line.ends_with(' ') && line != "-- ";
        if (soft && delsp)
            line.remove_suffix(1);
        paragraph += line;
        if (soft)
            open = true;
        else
            flush();
    }
    if (open)
        flush();
    return out;
}

} // namespace ferry::connectors::email
