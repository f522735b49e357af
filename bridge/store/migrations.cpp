#include "bridge/store/migrations.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/pg/transaction.hpp"

#include <charconv>

namespace ferry::store {

namespace {

// Serialises migrators across processes; any constant unlikely to collide with other applications.
constexpr std::string_view advisory_lock_key = "7405693081126370118";

constexpr std::string_view create_version_table = R"(
CREATE TABLE IF NOT EXISTS schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
))";

int to_int(std::string_view text) {
    int value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

} // namespace

boost::asio::awaitable<SchemaStatus> schema_status(pg::Connection& connection) {
    SchemaStatus status;
    for (const Migration& m : known_migrations())
        status.binary_version = std::max(status.binary_version, m.version);
    const pg::Result exists = co_await connection.execute("SELECT to_regclass('schema_version') IS NOT NULL");
    if (exists.get(0, 0) == "t") {
        const pg::Result rows = co_await connection.execute(
            "SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM schema_version ORDER BY version");
        for (int r = 0; r < rows.rows(); ++r) {
            status.applied.push_back({to_int(rows.get(r, 0).value_or("0")),
                                      std::string(rows.get(r, 1).value_or("")),
                                      std::string(rows.get(r, 2).value_or(""))});
            status.database_version = std::max(status.database_version, status.applied.back().version);
        }
    }
    for (const Migration& m : known_migrations()) {
        const bool done = std::ranges::any_of(
            status.applied, [&](const AppliedMigration& a) { return a.version == m.version; });
        if (!done)
            status.pending.push_back(m);
    }
    co_return status;
}

boost::asio::awaitable<std::vector<int>> migrate(pg::Connection& connection, core::Logger& logger) {
    std::vector<int> applied;
    const pg::Params lock_key = pg::params(std::string(advisory_lock_key));
    co_await connection.execute("SELECT pg_advisory_lock($1::bigint)", lock_key);
    std::exception_ptr failure;
    try {
        co_await connection.execute(create_version_table);
        const SchemaStatus status = co_await schema_status(connection);
        if (status.newer_than_binary())
            throw SchemaTooNew("the database schema is at version " +
                               std::to_string(status.database_version) + ", newer than this ferry knows (" +
                               std::to_string(status.binary_version) + "): upgrade ferry instead");
        for (const Migration& m : status.pending) {
            co_await pg::with_transaction(
                connection, [&m](pg::Connection& c) -> boost::asio::awaitable<void> {
                    co_await c.execute_script(m.sql);
                    co_await c.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                                       pg::params(std::to_string(m.version), std::string(m.name)));
                });
            logger.info("schema: applied migration " + std::string(m.name));
            applied.push_back(m.version);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    // The session-level lock would otherwise outlive a failed migration on a pooled connection.
    if (connection.is_open())
        co_await connection.execute("SELECT pg_advisory_unlock($1::bigint)", lock_key);
    if (failure)
        std::rethrow_exception(failure);
    co_return applied;
}

} // namespace ferry::store
