#include "app/cli/command.hpp"

#include "app/exit_codes.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <ostream>

namespace ferry::cli {

namespace asio = boost::asio;

bool SplitArguments::has(std::string_view name) const {
    return std::ranges::any_of(flags, [&](const auto& f) { return f.first == name; });
}

std::optional<std::string> SplitArguments::value(std::string_view name) const {
    std::optional<std::string> found;
    for (const auto& [key, v] : flags) {
        if (key != name)
            continue;
        if (found)
            throw UsageError("--" + std::string(name) + " is given twice");
        found = v;
    }
    return found;
}

std::vector<std::string> SplitArguments::values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [key, v] : flags)
        if (key == name)
            out.push_back(v);
    return out;
}

SplitArguments split_arguments(const std::vector<std::string>& args,
                               const std::vector<std::string>& own_flags,
                               const std::vector<std::string>& own_switches) {
    SplitArguments split;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (!arg.starts_with("-") || arg == "-") {
            split.positional.push_back(arg);
            continue;
        }
        const std::string body = arg.starts_with("--") ? arg.substr(2) : arg.substr(1);
        const auto equals = body.find('=');
        const std::string name = body.substr(0, equals);
        const bool own_flag = std::ranges::find(own_flags, name) != own_flags.end();
        const bool own_switch = std::ranges::find(own_switches, name) != own_switches.end();
        if (own_switch) {
            if (equals != std::string::npos)
                throw UsageError("--" + name + " takes no value");
            split.flags.emplace_back(name, "");
        } else if (own_flag) {
            if (equals != std::string::npos) {
                split.flags.emplace_back(name, body.substr(equals + 1));
            } else {
                if (i + 1 >= args.size())
                    throw UsageError("--" + name + " needs a value");
                split.flags.emplace_back(name, args[++i]);
            }
        } else {
            // A configuration option: every one of them takes a value.
            split.config_args.push_back(arg);
            if (equals == std::string::npos && i + 1 < args.size())
                split.config_args.push_back(args[++i]);
        }
    }
    return split;
}

namespace {

int run_subcommand(const Subcommand& sub, const SplitArguments& split, const core::Config& config,
                   std::ostream& out, std::ostream& err) {
    core::Logger logger(core::parse_log_level(config.log.level).value_or(core::LogLevel::info),
                        config.log.file);
    asio::io_context context(1);
    pg::Connection db(context.get_executor(), config.database.url,
                      pg::ConnectionOptions{.connect_timeout = std::chrono::seconds(5),
                                            .query_timeout = std::chrono::seconds(60)});
    int exit_code = app::exit_failure;
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<int> {
            co_await db.connect();
            CommandContext ctx{split, out, db, logger, config};
            co_return co_await sub.run(ctx);
        },
        [&](const std::exception_ptr& failure, int code) {
            if (!failure) {
                exit_code = code;
                return;
            }
            try {
                std::rethrow_exception(failure);
            } catch (const UsageError& e) {
                err << "ferry: " << e.what() << '\n';
                exit_code = app::exit_usage;
            } catch (const pg::ConnectionLost& e) {
                err << "ferry: cannot use the database " << db.description() << ": " << e.what() << '\n';
            } catch (const std::exception& e) {
                err << "ferry: " << e.what() << '\n';
            }
        });
    context.run();
    return exit_code;
}

} // namespace

std::optional<int> run_store_command(std::string_view command, const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment, std::ostream& out,
                                     std::ostream& err) {
    const auto& commands = store_commands();
    const auto found = std::ranges::find_if(commands, [&](const Command& c) { return c.name == command; });
    if (found == commands.end())
        return std::nullopt;
    if (args.empty() || args[0].starts_with("-")) {
        err << "ferry " << command << ": which one? (try: ferry help)\n";
        return app::exit_usage;
    }
    const auto sub =
        std::ranges::find_if(found->subcommands, [&](const Subcommand& s) { return s.name == args[0]; });
    if (sub == found->subcommands.end()) {
        err << "ferry " << command << ": unknown subcommand \"" << args[0] << "\" (try: ferry help)\n";
        return app::exit_usage;
    }
    try {
        const SplitArguments split = split_arguments(std::vector<std::string>(args.begin() + 1, args.end()),
                                                     sub->flags, sub->switches);
        const core::Config config =
            core::load_config(split.config_args, environment, {.component = false, .database = true});
        return run_subcommand(*sub, split, config, out, err);
    } catch (const UsageError& e) {
        err << "ferry " << command << ' ' << sub->name << ": " << e.what() << "\nusage: ferry " << command
            << ' ' << sub->name << ' ' << sub->usage << '\n';
        return app::exit_usage;
    } catch (const core::ConfigError& e) {
        err << "ferry: configuration error: " << e.what() << '\n';
        return app::exit_usage;
    }
}

std::string store_commands_help() {
    std::string out;
    for (const Command& c : store_commands()) {
        for (const Subcommand& s : c.subcommands)
            out += "  " + c.name + " " + s.name + " " + s.usage + "\n      " + s.summary + "\n";
    }
    return out;
}

} // namespace ferry::cli
