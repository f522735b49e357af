#include "app/cli/db_command.hpp"

#include "app/cli/command.hpp"
#include "bridge/store/migrations.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

namespace ferry::cli {

using namespace store; // the CLI speaks the store's language throughout

namespace {

boost::asio::awaitable<int> migrate_command(CommandContext& ctx) {
    const std::vector<int> applied = co_await migrate(ctx.db, ctx.logger);
    const SchemaStatus status = co_await schema_status(ctx.db);
    if (ctx.args.has("json")) {
        ctx.out << nlohmann::json{{"applied", applied}, {"version", status.database_version}}.dump() << '\n';
        co_return 0;
    }
    if (applied.empty())
        ctx.out << "schema already at version " << status.database_version << ": nothing to do\n";
    for (int version : applied)
        for (const Migration& m : known_migrations())
            if (m.version == version)
                ctx.out << "applied " << m.name << '\n';
    if (!applied.empty())
        ctx.out << "schema now at version " << status.database_version << '\n';
    co_return 0;
}

boost::asio::awaitable<int> status_command(CommandContext& ctx) {
    const SchemaStatus status = co_await schema_status(ctx.db);
    const std::string state = status.newer_than_binary() ? "newer than this ferry: upgrade ferry"
                              : status.up_to_date()      ? "up to date"
                                                         : "migrations pending: run ferry db migrate";
    if (ctx.args.has("json")) {
        nlohmann::json applied = nlohmann::json::array();
        for (const auto& a : status.applied)
            applied.push_back({{"version", a.version}, {"name", a.name}, {"applied_at", a.applied_at}});
        nlohmann::json pending = nlohmann::json::array();
        for (const auto& m : status.pending)
            pending.push_back({{"version", m.version}, {"name", m.name}});
        ctx.out << nlohmann::json{{"database_version", status.database_version},
                                  {"binary_version", status.binary_version},
                                  {"up_to_date", status.up_to_date()},
                                  {"applied", applied},
                                  {"pending", pending}}
                       .dump()
                << '\n';
    } else {
        ctx.out << "database schema version " << status.database_version << ", this ferry knows up to "
                << status.binary_version << ": " << state << '\n';
        for (const auto& a : status.applied)
            ctx.out << "  applied  " << a.name << "  " << a.applied_at << '\n';
        for (const auto& m : status.pending)
            ctx.out << "  pending  " << m.name << '\n';
    }
    // Scripts can test `ferry db status` alone: non-zero unless the schema is exactly what this binary
    // expects.
    co_return status.up_to_date() ? 0 : 1;
}

} // namespace

Command db_command() {
    return {"db",
            "the database schema",
            {{"migrate",
              "[--json]",
              "apply pending schema migrations (idempotent)",
              {},
              {"json"},
              migrate_command},
             {"status",
              "[--json]",
              "show applied and pending migrations; exit 1 unless up to date",
              {},
              {"json"},
              status_command}}};
}

} // namespace ferry::cli
