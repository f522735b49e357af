#pragma once

#include <boost/asio/awaitable.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {
class Logger;
}
namespace ferry::pg {
class Connection;
}

namespace ferry::store {

/// One numbered schema change, compiled in from schema/NNN_name.sql.
struct Migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

/// The migrations this binary knows, in ascending version order.
std::span<const Migration> known_migrations();

/// The database holds a schema this binary does not know (it was migrated by a newer Ferry).
class SchemaTooNew : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

struct AppliedMigration {
    int version;
    std::string name;
    std::string applied_at;
};

struct SchemaStatus {
    std::vector<AppliedMigration> applied; ///< what the database records, ascending
    std::vector<Migration> pending;        ///< known here, not yet applied
    int database_version = 0;              ///< highest applied version, 0 for an empty database
    int binary_version = 0;                ///< highest known version

    bool up_to_date() const { return pending.empty() && database_version <= binary_version; }
    bool newer_than_binary() const { return database_version > binary_version; }
};

/// Reads the schema_version table (absent means nothing applied).
boost::asio::awaitable<SchemaStatus> schema_status(pg::Connection& connection);

/// Applies every pending migration in order, each in its own transaction together with its schema_version
/// row; concurrent migrators wait for each other (advisory lock). Idempotent. Throws SchemaTooNew when the
/// database is newer than this binary. Returns the versions it applied.
boost::asio::awaitable<std::vector<int>> migrate(pg::Connection& connection, core::Logger& logger);

} // namespace ferry::store
