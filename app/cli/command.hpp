#pragma once

#include "bridge/core/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::pg {
class Connection;
}
namespace ferry::core {
class Logger;
}

namespace ferry::cli {

/// Bad input to a store command (unknown connector, invalid JID, duplicate mapping): printed as
/// "ferry: <message>" and exit code 2.
class UsageError : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// The arguments of a store command split into its own flags and the configuration options (--config,
/// --database.url, ...) that load_config() takes.
struct SplitArguments {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> flags; ///< ("xmpp", "alice@example.org"); switches: ""
    std::vector<std::string> config_args;

    bool has(std::string_view name) const;
    /// The value of a flag given once; nullopt when absent. UsageError when given twice.
    std::optional<std::string> value(std::string_view name) const;
    /// Every value of a flag that may repeat (--option k=v --option k2=v2).
    std::vector<std::string> values(std::string_view name) const;
};

/// Splits `args`: `own_flags` take a value (--name VALUE or --name=VALUE), `own_switches` take none, words
/// without a leading '-' are positional, and every other option goes, with its value, to config_args.
SplitArguments split_arguments(const std::vector<std::string>& args,
                               const std::vector<std::string>& own_flags,
                               const std::vector<std::string>& own_switches);

/// What a store subcommand gets: its arguments, where to print, and an open database session.
struct CommandContext {
    const SplitArguments& args;
    std::ostream& out;
    pg::Connection& db;
    core::Logger& logger;
    const core::Config& config;
};

/// One subcommand such as `ferry mapping add`.
struct Subcommand {
    std::string name;
    std::string usage;                 ///< "--xmpp JID --connector NAME --remote ADDRESS [--json]"
    std::string summary;               ///< one line
    std::vector<std::string> flags;    ///< own options that take a value
    std::vector<std::string> switches; ///< own options without a value (--json, --yes)
    std::function<boost::asio::awaitable<int>(CommandContext&)> run;
};

/// A command with subcommands, such as `ferry mapping`.
struct Command {
    std::string name;
    std::string summary;
    std::vector<Subcommand> subcommands;
};

/// The store commands: db, connector, mapping, outbox, dead-letters.
const std::vector<Command>& store_commands();

/// Runs `ferry <command> <subcommand> ...` when `command` is a store command: splits the arguments, loads
/// the configuration (database.url required, the component section not), connects to PostgreSQL (giving up
/// after a few seconds with a clear message rather than waiting forever), runs the subcommand and returns its
/// exit code. Bad input → 2 with a message naming it; SQL and connection errors → 1. nullopt when `command`
/// is not a store command.
std::optional<int> run_store_command(std::string_view command, const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment, std::ostream& out,
                                     std::ostream& err);

/// Help text listing the store commands and their subcommands.
std::string store_commands_help();

} // namespace ferry::cli
