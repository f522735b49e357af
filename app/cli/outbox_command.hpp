#pragma once

#include "app/cli/command.hpp"

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::cli {

/// `ferry outbox list|retry|purge`.
Command outbox_command();

// Helpers shared by the outbox and dead-letters commands; each throws UsageError naming the bad argument.

/// The rows a retry or purge acts on: one row by id, or every row (of one connector when `connector`).
struct RowSelection {
    std::optional<std::int64_t> id;       ///< set unless --all
    std::optional<std::string> connector; ///< a checked connector name, only with --all
};

/// Reads `ID|--all [--connector NAME]`: exactly one of an id and --all, --connector only with --all.
/// `what` names a row in messages ("outbox row"), `list` is the command that shows the ids.
RowSelection row_selection(const SplitArguments& args, std::string_view what, std::string_view list);

/// The id (as text, for a parameter) of the connector named `name`, nullopt when `name` is; UsageError
/// "unknown connector NAME" when there is no such connector.
boost::asio::awaitable<std::optional<std::string>> connector_id(pg::Connection& db,
                                                                const std::optional<std::string>& name);

/// `--limit N` of the list commands: a whole number from 0 to 10000, 50 when absent.
std::int64_t limit_argument(const SplitArguments& args);

/// `text` made printable on one line and cut to at most `columns` display columns, ending in "…" when cut.
std::string shorten(std::string_view text, std::size_t columns);

/// A duration for humans in its largest whole unit: "42s", "5m", "3h", "2d".
std::string age_text(std::int64_t seconds);

} // namespace ferry::cli
