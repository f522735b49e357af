#pragma once

namespace ferry::app {

/// Process exit codes of `ferry` (documented in the README).
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,        ///< an unexpected runtime error
    exit_usage = 2,          ///< bad command line or configuration
    exit_not_authorized = 3, ///< the XMPP server rejected component.secret
    exit_host_unknown = 4,   ///< the XMPP server does not serve component.domain
    exit_schema = 5,         ///< the database schema is not what this binary needs
};

} // namespace ferry::app
