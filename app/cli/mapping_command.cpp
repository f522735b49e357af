#include "app/cli/mapping_command.hpp"

#include "app/cli/connector_command.hpp"
#include "app/cli/table.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/xmpp/jid.hpp"
#include "connectors/families.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <variant>

namespace ferry::cli {

using namespace store; // the CLI speaks the store's language throughout

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

constexpr std::size_t max_remote_bytes = 2048; // the schema's CHECK on mappings.remote_address

std::string mapping_columns() {
    return "m.id, m.xmpp_address, c.name, m.remote_address, m.direction::text, m.options::text, m.enabled, " +
           iso_utc("m.created_at") + ", " + iso_utc("m.updated_at");
}

/// `source` is a table expression named m: "mappings m", or a CTE's name.
std::string select_mappings(std::string_view source) {
    return "SELECT " + mapping_columns() + " FROM " + std::string(source) +
           " JOIN connectors c ON c.id = m.connector_id";
}

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

json mapping_json(const pg::Result& r, int row) {
    return {{"id", std::stoll(text(r, row, 0))}, {"xmpp", text(r, row, 1)},
            {"connector", text(r, row, 2)},      {"remote", text(r, row, 3)},
            {"direction", text(r, row, 4)},      {"options", json::parse(text(r, row, 5))},
            {"enabled", text(r, row, 6) == "t"}, {"created_at", text(r, row, 7)},
            {"updated_at", text(r, row, 8)}};
}

void print_mapping(std::ostream& out, const pg::Result& r, bool as_json) {
    const json m = mapping_json(r, 0);
    if (as_json) {
        out << m.dump() << '\n';
        return;
    }
    print_record(out, {{"id", std::to_string(m["id"].get<std::int64_t>())},
                       {"xmpp", m["xmpp"]},
                       {"connector", m["connector"]},
                       {"remote", m["remote"]},
                       {"direction", m["direction"]},
                       {"enabled", yes_no(m["enabled"])},
                       {"options", show_key_values(m["options"])},
                       {"created", m["created_at"]},
                       {"updated", m["updated_at"]}});
}

void print_mappings(std::ostream& out, const pg::Result& r, bool as_json) {
    json all = json::array();
    for (int row = 0; row < r.rows(); ++row)
        all.push_back(mapping_json(r, row));
    if (as_json) {
        out << all.dump() << '\n';
        return;
    }
    if (all.empty()) {
        out << "no mappings\n";
        return;
    }
    Table table({"ID", "XMPP", "CONNECTOR", "REMOTE", "DIRECTION", "ENABLED", "OPTIONS"});
    for (const json& m : all)
        table.add_row({std::to_string(m["id"].get<std::int64_t>()), m["xmpp"], m["connector"], m["remote"],
                       m["direction"], yes_no(m["enabled"]), show_key_values(m["options"])});
    table.print(out);
}

std::string remote_address(const SplitArguments& args) {
    std::string remote = required_flag(args, "remote");
    if (remote.size() > max_remote_bytes)
        throw UsageError("--remote is longer than " + std::to_string(max_remote_bytes) + " bytes");
    if (!valid_utf8(remote) || printable(remote) != remote)
        throw UsageError("--remote must be valid UTF-8 without control characters");
    return remote;
}

std::string direction(const SplitArguments& args) {
    std::string name = args.value("direction").value_or("both");
    if (!parse_direction(name))
        throw UsageError("--direction must be in, out or both, not \"" + printable(name) + "\"");
    return name;
}

UsageError no_mapping(std::int64_t id) {
    return UsageError("no mapping with id " + std::to_string(id) + " (see ferry mapping list)");
}

std::int64_t id_argument(const SplitArguments& args) {
    return parse_id(single_positional(args, "which mapping? give its id (see ferry mapping list)"),
                    "mapping id");
}

asio::awaitable<int> add_command(CommandContext& ctx) {
    single_positional(ctx.args, "");
    const std::string xmpp = mapping_address(required_flag(ctx.args, "xmpp"));
    const std::string connector = required_flag(ctx.args, "connector");
    check_connector_name(connector);
    const std::string remote = remote_address(ctx.args);
    const std::string way = direction(ctx.args);
    const std::string options = key_values(ctx.args, "option").dump();
    const std::string enabled = ctx.args.has("disabled") ? "false" : "true";
    const pg::Result kind =
        co_await ctx.db.execute("SELECT kind FROM connectors WHERE name = $1", pg::params(connector));
    if (kind.rows() == 1)
        if (const core::KindSpec* spec = connectors::families().find_kind(text(kind, 0, 0));
            spec != nullptr && spec->check_mapping) {
            try {
                spec->check_mapping(xmpp, way, remote);
            } catch (const std::invalid_argument& e) {
                throw UsageError(e.what());
            }
        }
    const std::string sql =
        "WITH m AS (INSERT INTO mappings (xmpp_address, connector_id, remote_address, direction, options, "
        "enabled) "
        "SELECT $1, c.id, $3, $4::mapping_direction, $5::jsonb, $6::boolean FROM connectors c WHERE c.name = "
        "$2 "
        "ON CONFLICT (xmpp_address, connector_id, remote_address) DO NOTHING RETURNING *) " +
        select_mappings("m");
    const pg::Result r =
        co_await ctx.db.execute(sql, pg::params(xmpp, connector, remote, way, options, enabled));
    if (r.rows() == 0) {
        const pg::Result existing = co_await ctx.db.execute(
            "SELECT (SELECT m.id FROM mappings m WHERE m.connector_id = c.id AND m.xmpp_address = $1 "
            "AND m.remote_address = $3) FROM connectors c WHERE c.name = $2",
            pg::params(xmpp, connector, remote));
        if (existing.rows() == 0)
            throw UsageError("unknown connector " + connector + " (see ferry connector list)");
        throw UsageError("this mapping exists already (id " + text(existing, 0, 0) + ")");
    }
    if (ctx.args.has("json"))
        print_mapping(ctx.out, r, true);
    else
        ctx.out << text(r, 0, 0) << '\n';
    co_return 0;
}

asio::awaitable<int> list_command(CommandContext& ctx) {
    single_positional(ctx.args, "");
    const std::optional<std::string> connector = ctx.args.value("connector");
    std::optional<std::string> xmpp = ctx.args.value("xmpp");
    if (xmpp)
        xmpp = mapping_address(*xmpp);
    if (connector) {
        check_connector_name(*connector);
        const pg::Result known =
            co_await ctx.db.execute("SELECT 1 FROM connectors WHERE name = $1", pg::params(*connector));
        if (known.rows() == 0)
            throw UsageError("unknown connector " + *connector + " (see ferry connector list)");
    }
    const std::string sql =
        select_mappings("mappings m") +
        " WHERE ($1::text IS NULL OR c.name = $1) AND ($2::text IS NULL OR m.xmpp_address = $2) "
        "ORDER BY m.id";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(connector, xmpp));
    print_mappings(ctx.out, r, ctx.args.has("json"));
    co_return 0;
}

asio::awaitable<int> show_command(CommandContext& ctx) {
    const std::int64_t id = id_argument(ctx.args);
    const std::string sql = select_mappings("mappings m") + " WHERE m.id = $1";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(std::to_string(id)));
    if (r.rows() == 0)
        throw no_mapping(id);
    print_mapping(ctx.out, r, ctx.args.has("json"));
    co_return 0;
}

asio::awaitable<int> remove_command(CommandContext& ctx) {
    const std::int64_t id = id_argument(ctx.args);
    const std::string sql =
        "WITH m AS (DELETE FROM mappings WHERE id = $1 RETURNING *) " + select_mappings("m");
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(std::to_string(id)));
    if (r.rows() == 0)
        throw no_mapping(id);
    if (ctx.args.has("json"))
        print_mapping(ctx.out, r, true);
    else
        ctx.out << "removed mapping " << id << '\n';
    co_return 0;
}

asio::awaitable<int> set_enabled(CommandContext& ctx, bool enabled) {
    const std::int64_t id = id_argument(ctx.args);
    const std::string state = enabled ? "true" : "false";
    const std::string word = enabled ? "enabled" : "disabled";
    // Only a real change touches the row, so updated_at keeps meaning "last changed".
    const std::string sql = "WITH m AS (UPDATE mappings SET enabled = $2::boolean, updated_at = now() "
                            "WHERE id = $1 AND enabled <> $2::boolean RETURNING *) " +
                            select_mappings("m");
    pg::Result r = co_await ctx.db.execute(sql, pg::params(std::to_string(id), state));
    const bool changed = r.rows() > 0;
    if (!changed) {
        const std::string current = select_mappings("mappings m") + " WHERE m.id = $1";
        r = co_await ctx.db.execute(current, pg::params(std::to_string(id)));
        if (r.rows() == 0)
            throw no_mapping(id);
    }
    if (ctx.args.has("json"))
        print_mapping(ctx.out, r, true);
    else if (changed)
        ctx.out << word << " mapping " << id << '\n';
    else
        ctx.out << "mapping " << id << " is already " << word << '\n';
    co_return 0;
}

} // namespace

std::string mapping_address(std::string_view text, std::string_view full_jid_refusal) {
    auto parsed = xmpp::Jid::parse_or_reason(text);
    if (const auto* reason = std::get_if<std::string>(&parsed))
        throw UsageError("invalid XMPP address \"" + printable(text) + "\": " + *reason);
    const xmpp::Jid& jid = std::get<xmpp::Jid>(parsed);
    if (!jid.is_bare())
        throw UsageError(std::string(full_jid_refusal) + ": leave out \"/" + printable(jid.resource()) +
                         "\"");
    std::string bare = jid.bare_string();
    if (bare.size() < 3) // the schema's CHECK on mappings.xmpp_address
        throw UsageError("invalid XMPP address \"" + printable(text) +
                         "\": too short (3 characters at least)");
    return bare;
}

Command mapping_command() {
    return {
        "mapping",
        "who talks to whom",
        {{"add",
          "--xmpp JID --connector NAME --remote ADDRESS [--direction in|out|both] [--option KEY=VALUE]... "
          "[--disabled] [--json]",
          "bind a bare JID or room to a remote address of a connector; prints the new id",
          {"xmpp", "connector", "remote", "direction", "option"},
          {"disabled", "json"},
          add_command},
         {"list",
          "[--connector NAME] [--xmpp JID] [--json]",
          "list mappings, optionally filtered",
          {"connector", "xmpp"},
          {"json"},
          list_command},
         {"show", "ID [--json]", "show one mapping", {}, {"json"}, show_command},
         {"remove", "ID [--json]", "remove a mapping", {}, {"json"}, remove_command},
         {"enable",
          "ID [--json]",
          "let a mapping carry messages again",
          {},
          {"json"},
          [](CommandContext& ctx) { return set_enabled(ctx, true); }},
         {"disable",
          "ID [--json]",
          "stop a mapping without removing it",
          {},
          {"json"},
          [](CommandContext& ctx) { return set_enabled(ctx, false); }}}};
}

} // namespace ferry::cli
