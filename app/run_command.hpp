#pragma once

#include "app/exit_codes.hpp"
#include "bridge/core/config.hpp"

#include <string>
#include <vector>

namespace ferry::app {

struct RunOptions {
    bool migrate = false; ///< `ferry run --migrate`: apply pending schema migrations first
};

/// `ferry run`: connects the component and serves until SIGTERM/SIGINT or a fatal rejection.
/// SIGHUP reopens the log file and re-reads the log level from the same sources.
/// args/environment are kept so that SIGHUP can load the configuration again.
/// With database.url set, it also runs the store (mappings, outbox, dispatcher, connectors).
int run_component(const core::Config& config, const std::vector<std::string>& args,
                  const std::vector<std::string>& environment, RunOptions options = {});

} // namespace ferry::app
