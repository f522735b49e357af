#pragma once

#include "app/cli/command.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ferry::cli {

/// `ferry connector add|list|show|remove`.
Command connector_command();

// Argument helpers shared by the connector and mapping commands; each throws UsageError with a message
// naming the offending argument.

/// The one positional argument of a subcommand; `what` is the error when it is missing ("which connector?
/// give its name"). An empty `what` means the subcommand takes none: any positional is then refused.
std::string single_positional(const SplitArguments& args, std::string_view what);

/// The value of a flag that must be given once and not be empty.
std::string required_flag(const SplitArguments& args, std::string_view name);

/// The repeated `--<flag> key=value` arguments as a JSON object of strings; keys are 1-64 characters of
/// [A-Za-z0-9_.-], each given once; keys and values must be valid UTF-8.
nlohmann::ordered_json key_values(const SplitArguments& args, std::string_view flag);

/// Checks a connector name against `^[a-z0-9][a-z0-9_-]{0,62}$` (the schema's rule) before any SQL.
void check_connector_name(std::string_view name);

/// Parses a row id: a positive whole number that fits in a bigint, digits only ("abc", "-1", "1x", "0"
/// are refused); `what` names it in the error ("mapping id").
std::int64_t parse_id(std::string_view text, std::string_view what);

/// "yes" or "no", for the ENABLED columns.
inline std::string yes_no(bool value) {
    return value ? "yes" : "no";
}

/// A JSON object of strings shown as `key=value key2=value2` for humans ("-" when empty).
std::string show_key_values(const nlohmann::ordered_json& object);

/// SQL that formats a timestamptz column as UTC ISO 8601 with seconds ("2025-01-31T12:00:00Z").
std::string iso_utc(std::string_view column);

} // namespace ferry::cli
