#include "bridge/core/build_info.hpp"
#include "bridge/core/component_app.hpp"
#include "bridge/core/config.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

using namespace ferry::core;

constexpr std::string_view usage = R"(usage: ferry <command> [options]

commands:
  run            connect to the XMPP server as an external component and serve
  check-config   print the effective configuration (secrets redacted); non-zero exit on any error
  version        print the version
  help           print this text and every option

options (each also settable in the INI file given with --config and as FERRY_SECTION_KEY):
)";

std::vector<std::string> environment_strings() {
    std::vector<std::string> environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
        environment.emplace_back(*entry);
    return environment;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << usage << options_help();
        return exit_usage;
    }
    const std::string_view command = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);

    if (command == "help" || command == "--help" || command == "-h") {
        std::cout << usage << options_help();
        return exit_ok;
    }
    if (command == "version" || command == "--version") {
        std::cout << "ferry " << ferry_version << '\n';
        return exit_ok;
    }
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
        return run_component(config, args, environment);
    } catch (const std::exception& e) {
        std::cerr << "ferry: " << e.what() << '\n';
        return exit_failure;
    }
}
