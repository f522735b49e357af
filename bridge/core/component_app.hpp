#pragma once

#include "bridge/core/config.hpp"

#include <string>
#include <vector>

namespace ferry::core {

/// Process exit codes of `ferry` (documented in the README).
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,        ///< an unexpected runtime error
    exit_usage = 2,          ///< bad command line or configuration
    exit_not_authorized = 3, ///< the XMPP server rejected component.secret
    exit_host_unknown = 4,   ///< the XMPP server does not serve component.domain
    exit_schema = 5,         ///< the database schema is not what this binary needs
};

struct RunOptions {
    bool migrate = false; ///< `ferry run --migrate`: apply pending schema migrations first
};

/// `ferry run`: connects the component and serves until SIGTERM/SIGINT or a fatal rejection.
/// SIGHUP reopens the log file and re-reads the log level from the same sources.
/// args/environment are kept so that SIGHUP can load the configuration again.
/// With database.url set, it also runs the store (mappings, outbox, dispatcher, connectors).
int run_component(const Config& config, const std::vector<std::string>& args,
                  const std::vector<std::string>& environment, RunOptions options = {});

} // namespace ferry::core
