#pragma once

#include "bridge/text/utf8.hpp"

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::cli {

/// The human output of the store commands: a header row and left-aligned columns separated by two spaces,
/// padded by display width (see display_width), with control characters shown as '?' so that a stored
/// value cannot move the cursor or forge lines. Scripts use --json instead.
class Table {
public:
    /// A table with these column headers, printed as given ("ID", "NAME", ...).
    explicit Table(std::vector<std::string> headers);

    /// Appends a row; missing cells are blank, extra cells are dropped.
    void add_row(std::vector<std::string> cells);
    /// True when no row was added.
    bool empty() const { return rows_.empty(); }
    /// Writes the header and every row, one line each, without trailing blanks.
    void print(std::ostream& out) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// Writes "label  value" lines with the values aligned, for `show` commands.
void print_record(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

/// Columns `text` takes on a terminal: code points of valid UTF-8 count 1, East Asian wide and fullwidth
/// characters (and most emoji) 2, combining marks and zero-width characters 0; each invalid byte counts 1.
std::size_t display_width(std::string_view text);

/// `text` with control characters (C0, DEL, C1) and invalid UTF-8 bytes replaced by '?'.
using text::printable;

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool valid_utf8(std::string_view text);

} // namespace ferry::cli
