#include "app/cli/command.hpp"
#include "app/run_command.hpp"
#include "bridge/base/build_info.hpp"
#include "bridge/core/config.hpp"
#include "connectors/families.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

// POSIX has the program declare environ; glibc declares it too, but only under _GNU_SOURCE.
extern char** environ; // NOLINT(readability-redundant-declaration)

namespace {

using namespace ferry::core;
using namespace ferry::app;

constexpr std::string_view usage = R"(usage: ferry <command> [options]

commands:
  run            connect to the XMPP server as an external component and serve
                 (--migrate: apply pending schema migrations first)
  check-config   print the effective configuration (secrets redacted); non-zero exit on any error
  version        print the version
  help           print this text and every option; help kinds [--markdown]: every connector kind and its settings

store commands (need database.url):
@STORE@
)";

std::vector<std::string> environment_strings() {
    std::vector<std::string> environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
        environment.emplace_back(*entry);
    return environment;
}

} // namespace

int main(int argc, char** argv) {
    const auto full_usage = [] {
        std::string text(usage);
        text.replace(text.find("@STORE@\n"), 8, ferry::cli::store_commands_help());
        return text + options_help();
    };
    if (argc < 2) {
        std::cerr << full_usage();
        return exit_usage;
    }
    const std::string_view command = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    RunOptions run_options;
    if (command == "run" && std::erase(args, std::string("--migrate")) > 0)
        run_options.migrate = true;

    if (command == "help" || command == "--help" || command == "-h") {
        if (!args.empty() && args[0] == "kinds") {
            const bool markdown = args.size() == 2 && args[1] == "--markdown";
            const auto& families = ferry::connectors::families();
            std::cout << (markdown ? families.kinds_table() : families.kinds_help());
            return exit_ok;
        }
        std::cout << full_usage();
        return exit_ok;
    }
    if (command == "version" || command == "--version") {
        std::cout << "ferry " << ferry_version << '\n';
        return exit_ok;
    }
    if (const auto code =
            ferry::cli::run_store_command(command, args, environment_strings(), std::cout, std::cerr))
        return *code;
    if (command != "run" && command != "check-config") {
        std::cerr << "ferry: unknown command \"" << command << "\" (try: ferry help)\n";
        return exit_usage;
    }

    const std::vector<std::string> environment = environment_strings();
    Config config;
    try {
        config = load_config(args, environment);
    } catch (const ConfigError& e) {
        std::cerr << "ferry: configuration error: " << e.what() << '\n';
        return exit_usage;
    }
    if (command == "check-config") {
        std::cout << describe_config(config);
        return exit_ok;
    }
    try {
        return run_component(config, args, environment, run_options);
    } catch (const std::exception& e) {
        std::cerr << "ferry: " << e.what() << '\n';
        return exit_failure;
    }
}
