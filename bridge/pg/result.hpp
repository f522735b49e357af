#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

struct pg_result;

namespace ferry::pg {

/// The outcome of one statement: owns a libpq result and frees it. Values are text (libpq's text format);
/// the views it returns stay valid as long as the Result lives. Move-only.
class Result {
public:
    /// An empty result: no rows, no columns.
    Result() = default;
    /// Takes ownership of `result` (null makes an empty result).
    explicit Result(pg_result* result) noexcept : result_(result) {}
    ~Result();
    Result(Result&& other) noexcept;
    Result& operator=(Result&& other) noexcept;
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;

    /// Number of rows returned (0 for statements that return none).
    int rows() const;
    /// Number of columns returned.
    int columns() const;
    /// Name of column `column` as the server sent it; throws std::out_of_range for a bad index.
    std::string_view column_name(int column) const;
    /// Index of the column named exactly `name` (no case folding, unlike PQfnumber), or nullopt.
    std::optional<int> column_index(std::string_view name) const;
    /// The value at (row, column) as text, nullopt for SQL NULL; throws std::out_of_range for bad indexes.
    std::optional<std::string_view> get(int row, int column) const;
    /// The value at `row` in the column named exactly `column`; throws std::out_of_range for an unknown name.
    std::optional<std::string_view> get(int row, std::string_view column) const;
    /// Rows inserted, updated, deleted, selected… by the statement (PQcmdTuples); 0 when it does not say.
    std::uint64_t affected_rows() const;
    /// The command tag, e.g. "INSERT 0 1", "COMMIT" (or "ROLLBACK" for a COMMIT of a failed transaction).
    std::string_view command_status() const;
    /// The libpq result, still owned by this object (null for an empty result).
    pg_result* native() const { return result_; }
    explicit operator bool() const { return result_ != nullptr; }

private:
    void check_cell(int row, int column) const;

    pg_result* result_ = nullptr;
};

} // namespace ferry::pg
