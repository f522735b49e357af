#include "bridge/pg/result.hpp"

#include <charconv>
#include <cstring>
#include <libpq-fe.h>
#include <stdexcept>
#include <string>
#include <utility>

namespace ferry::pg {

Result::~Result() {
    if (result_)
        PQclear(result_);
}

Result::Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

Result& Result::operator=(Result&& other) noexcept {
    if (this != &other) {
        if (result_)
            PQclear(result_);
        result_ = std::exchange(other.result_, nullptr);
    }
    return *this;
}

int Result::rows() const {
    return result_ ? PQntuples(result_) : 0;
}

int Result::columns() const {
    return result_ ? PQnfields(result_) : 0;
}

std::string_view Result::column_name(int column) const {
    if (column < 0 || column >= columns())
        throw std::out_of_range("no column " + std::to_string(column) + " in this result");
    return PQfname(result_, column);
}

std::optional<int> Result::column_index(std::string_view name) const {
    for (int column = 0; column < columns(); ++column)
        if (name == PQfname(result_, column))
            return column;
    return std::nullopt;
}

void Result::check_cell(int row, int column) const {
    if (row < 0 || row >= rows() || column < 0 || column >= columns())
        throw std::out_of_range("no cell (" + std::to_string(row) + ", " + std::to_string(column) +
                                ") in a result of " + std::to_string(rows()) + " rows and " +
                                std::to_string(columns()) + " columns");
}

std::optional<std::string_view> Result::get(int row, int column) const {
    check_cell(row, column);
    if (PQgetisnull(result_, row, column))
        return std::nullopt;
    return std::string_view(PQgetvalue(result_, row, column),
                            static_cast<std::size_t>(PQgetlength(result_, row, column)));
}

std::optional<std::string_view> Result::get(int row, std::string_view column) const {
    const auto index = column_index(column);
    if (!index)
        throw std::out_of_range("no column named \"" + std::string(column) + "\" in this result");
    return get(row, *index);
}

std::uint64_t Result::affected_rows() const {
    if (!result_)
        return 0;
    const char* text = PQcmdTuples(result_);
    std::uint64_t count = 0;
    std::from_chars(text, text + std::strlen(text), count);
    return count;
}

std::string_view Result::command_status() const {
    return result_ ? PQcmdStatus(result_) : "";
}

} // namespace ferry::pg
