#include "app/cli/table.hpp"

#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <ostream>

namespace ferry::cli {

namespace {

struct Decoded {
    char32_t code_point; ///< meaningless when !valid
    std::size_t length;  ///< bytes consumed: the sequence, or 1 for an invalid byte
    bool valid;
};

Decoded decode(std::string_view text, std::size_t at) {
    std::size_t next = at;
    if (const auto code_point = ferry::text::decode_utf8(text, next))
        return {*code_point, next - at, true};
    return {0, 1, false};
}

bool is_zero_width(char32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x0483 && cp <= 0x0489) ||
           (cp >= 0x0591 && cp <= 0x05bd) || (cp >= 0x0610 && cp <= 0x061a) ||
           (cp >= 0x064b && cp <= 0x065f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
           (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
           (cp >= 0xfe20 && cp <= 0xfe2f) || cp == 0xfeff || (cp >= 0xe0100 && cp <= 0xe01ef);
}

bool is_wide(char32_t cp) {
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
           (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
           (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
           (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
           (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
           (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

void pad(std::ostream& out, std::size_t columns) {
    for (std::size_t i = 0; i < columns; ++i)
        out << ' ';
}

} // namespace

std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t at = 0; at < text.size();) {
        const Decoded d = decode(text, at);
        at += d.length;
        if (!d.valid)
            width += 1;
        else if (!is_zero_width(d.code_point))
            width += is_wide(d.code_point) ? 2 : 1;
    }
    return width;
}

bool valid_utf8(std::string_view text) {
    return ferry::text::valid_utf8(text);
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    for (std::string& cell : cells)
        cell = printable(cell);
    rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> widths;
    for (const std::string& h : headers_)
        widths.push_back(display_width(h));
    for (const auto& row : rows_)
        for (std::size_t c = 0; c < row.size(); ++c)
            widths[c] = std::max(widths[c], display_width(row[c]));
    const auto line = [&](const std::vector<std::string>& cells) {
        // The last non-empty cell ends the line: no trailing blanks.
        std::size_t last = cells.size();
        while (last > 0 && cells[last - 1].empty())
            --last;
        for (std::size_t c = 0; c < last; ++c) {
            out << cells[c];
            if (c + 1 < last)
                pad(out, widths[c] - display_width(cells[c]) + 2);
        }
        out << '\n';
    };
    line(headers_);
    for (const auto& row : rows_)
        line(row);
}

void print_record(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields) {
    std::size_t width = 0;
    for (const auto& field : fields)
        width = std::max(width, display_width(field.first));
    for (const auto& [label, value] : fields) {
        out << label;
        pad(out, width - display_width(label) + 2);
        out << printable(value) << '\n';
    }
}

} // namespace ferry::cli
