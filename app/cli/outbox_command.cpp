#include "app/cli/outbox_command.hpp"

#include "app/cli/connector_command.hpp"
#include "app/cli/table.hpp"
#include "bridge/pg/connection.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

namespace ferry::cli {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

constexpr std::int64_t default_limit = 50;
constexpr std::int64_t max_limit = 10000;
constexpr std::size_t error_columns = 40;

// The dispatcher's own test for a lease that still holds (bridge/core/dispatcher.cpp claims a row only
// when its lease is absent or has expired).
constexpr std::string_view free_of_lease = "(o.lease_expires_at IS NULL OR o.lease_expires_at < now())";

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

json nullable(const pg::Result& r, int row, int column) {
    const auto value = r.get(row, column);
    return value ? json(std::string(*value)) : json(nullptr);
}

// One statement, so that the counts and the rows come from the same snapshot; a single row of NULLs
// after the counts when no row matches. Columns: 0 total, 1 due, 2 leased, 3.. one message.
std::string list_sql() {
    return "WITH s AS (SELECT count(*) AS total, "
           "count(*) FILTER (WHERE o.next_attempt_at <= now() AND " +
           std::string(free_of_lease) +
           ") AS due, count(*) FILTER (WHERE o.lease_expires_at >= now()) AS leased "
           "FROM outbox o WHERE ($1::bigint IS NULL OR o.connector_id = $1)), "
           "r AS (SELECT o.id, o.idempotency_key, c.name, o.conversation, o.destination, o.attempts, " +
           iso_utc("o.next_attempt_at") + " AS next_attempt_at, o.lease_owner, " +
           iso_utc("o.lease_expires_at") + " AS lease_expires_at, o.lease_expires_at >= now() AS leased, " +
           "o.last_error, " + iso_utc("o.created_at") + " AS created_at, " +
           "floor(extract(epoch FROM now() - o.created_at))::bigint AS age "
           "FROM outbox o JOIN connectors c ON c.id = o.connector_id "
           "WHERE ($1::bigint IS NULL OR o.connector_id = $1) ORDER BY o.id LIMIT $2) "
           "SELECT s.total, s.due, s.leased, r.* FROM s LEFT JOIN r ON true ORDER BY r.id";
}

json message_json(const pg::Result& r, int row) {
    return {{"id", std::stoll(text(r, row, 3))},
            {"idempotency_key", text(r, row, 4)},
            {"connector", text(r, row, 5)},
            {"conversation", text(r, row, 6)},
            {"destination", text(r, row, 7)},
            {"attempts", std::stoll(text(r, row, 8))},
            {"next_attempt_at", text(r, row, 9)},
            {"lease_owner", nullable(r, row, 10)},
            {"lease_expires_at", nullable(r, row, 11)},
            {"leased", text(r, row, 12) == "t"},
            {"last_error", nullable(r, row, 13)},
            {"created_at", text(r, row, 14)},
            {"age_seconds", std::stoll(text(r, row, 15))}};
}

std::string or_dash(const json& value) {
    return value.is_null() ? "-" : value.get<std::string>();
}

void print_messages(std::ostream& out, const json& counts, const json& messages, bool filtered) {
    const std::int64_t total = counts["total"];
    if (total == 0) {
        out << (filtered ? "no queued messages for this connector\n" : "the outbox is empty\n");
        return;
    }
    if (!messages.empty()) {
        Table table({"ID", "CONNECTOR", "CONVERSATION", "DESTINATION", "ATTEMPTS", "NEXT ATTEMPT (UTC)",
                     "LEASED BY", "LEASED UNTIL", "LAST ERROR", "AGE"});
        for (const json& m : messages) {
            std::string until = or_dash(m["lease_expires_at"]);
            if (!m["lease_expires_at"].is_null() && !m["leased"].get<bool>())
                until += " (expired)";
            table.add_row(
                {std::to_string(m["id"].get<std::int64_t>()), m["connector"], m["conversation"],
                 m["destination"], std::to_string(m["attempts"].get<std::int64_t>()), m["next_attempt_at"],
                 or_dash(m["lease_owner"]), until,
                 m["last_error"].is_null() ? "-" : shorten(m["last_error"].get<std::string>(), error_columns),
                 age_text(m["age_seconds"])});
        }
        table.print(out);
    }
    out << total << " queued, " << counts["due"].get<std::int64_t>() << " due now, "
        << counts["leased"].get<std::int64_t>() << " leased";
    if (static_cast<std::int64_t>(messages.size()) < total)
        out << " (showing the oldest " << messages.size() << "; --limit N for more)";
    out << '\n';
}

asio::awaitable<int> list_command(CommandContext& ctx) {
    single_positional(ctx.args, "");
    const std::optional<std::string> connector = ctx.args.value("connector");
    if (connector)
        check_connector_name(*connector);
    const std::int64_t limit = limit_argument(ctx.args);
    const std::optional<std::string> connector_key = co_await connector_id(ctx.db, connector);
    const pg::Result r =
        co_await ctx.db.execute(list_sql(), pg::params(connector_key, std::to_string(limit)));
    const json counts = {{"total", std::stoll(text(r, 0, 0))},
                         {"due", std::stoll(text(r, 0, 1))},
                         {"leased", std::stoll(text(r, 0, 2))}};
    json messages = json::array();
    for (int row = 0; row < r.rows(); ++row)
        if (r.get(row, 3))
            messages.push_back(message_json(r, row));
    if (ctx.args.has("json")) {
        json all = counts;
        all["messages"] = messages;
        ctx.out << all.dump() << '\n';
    } else {
        print_messages(ctx.out, counts, messages, connector.has_value());
    }
    co_return 0;
}

/// retry and purge: the same selection, a different statement on the rows free of a lease.
struct BulkAction {
    std::string_view statement;          ///< acts on `outbox o` joined with the selection m
    std::string (*done)(std::int64_t n); ///< the sentence for humans: "made 2 message(s) due now"
    std::string_view json_key;           ///< the count's key in the --json object: "retried"
    std::string_view refused;            ///< the end of the error for a single leased row: "left as it is"
    bool needs_yes;                      ///< refuse without --yes
    bool wakes_dispatchers;              ///< NOTIFY ferry_outbox when rows changed
};

asio::awaitable<int> bulk_command(CommandContext& ctx, const BulkAction& action) {
    const RowSelection selection = row_selection(ctx.args, "outbox row", "ferry outbox list");
    if (action.needs_yes && !ctx.args.has("yes"))
        throw UsageError("purging drops messages for good; add --yes");
    const std::optional<std::string> connector_key = co_await connector_id(ctx.db, selection.connector);
    std::optional<std::string> id;
    if (selection.id)
        id = std::to_string(*selection.id);
    // m is what the selection matched in this statement's snapshot; whatever of it the action did not
    // reach was leased, or got leased (and perhaps delivered) meanwhile: in both cases, being delivered.
    const std::string sql =
        "WITH m AS (SELECT id, lease_owner, lease_expires_at FROM outbox "
        "WHERE ($1::bigint IS NULL OR id = $1) AND ($2::bigint IS NULL OR connector_id = $2)), "
        "changed AS (" +
        std::string(action.statement) + " AND " + std::string(free_of_lease) +
        " RETURNING o.id) "
        "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM changed), l.lease_owner, " +
        iso_utc("l.lease_expires_at") +
        " FROM (SELECT 1) one LEFT JOIN (SELECT lease_owner, lease_expires_at FROM m "
        "WHERE id NOT IN (SELECT id FROM changed) ORDER BY id LIMIT 1) l ON true";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(id, connector_key));
    const std::int64_t matched = std::stoll(text(r, 0, 0));
    const std::int64_t changed = std::stoll(text(r, 0, 1));
    if (id && matched == 0)
        throw UsageError("no outbox row with id " + *id + " (see ferry outbox list)");
    if (id && changed == 0) {
        const std::string lease =
            r.get(0, 2) ? " (leased by " + printable(text(r, 0, 2)) + " until " + text(r, 0, 3) + ")" : "";
        throw UsageError("outbox row " + *id + " is being delivered right now" + lease + "; " +
                         std::string(action.refused));
    }
    if (changed > 0 && action.wakes_dispatchers)
        co_await ctx.db.execute("SELECT pg_notify('ferry_outbox', '')"); // wakes the dispatchers now
    if (ctx.args.has("json")) {
        ctx.out << json{{std::string(action.json_key), changed}, {"skipped_leased", matched - changed}}.dump()
                << '\n';
        co_return 0;
    }
    ctx.out << action.done(changed);
    if (matched > changed)
        ctx.out << "; skipped " << matched - changed << " being delivered (leased)";
    ctx.out << '\n';
    co_return 0;
}

const BulkAction retry_action{
    "UPDATE outbox o SET next_attempt_at = now() FROM m WHERE o.id = m.id",
    [](std::int64_t n) { return "made " + std::to_string(n) + " message(s) due now"; },
    "retried",
    "left as it is",
    false,
    true};
const BulkAction purge_action{"DELETE FROM outbox o USING m WHERE o.id = m.id",
                              [](std::int64_t n) { return "purged " + std::to_string(n) + " message(s)"; },
                              "purged",
                              "not purged",
                              true,
                              false};

} // namespace

RowSelection row_selection(const SplitArguments& args, std::string_view what, std::string_view list) {
    const bool all = args.has("all");
    if (args.positional.size() > 1)
        throw UsageError("unexpected argument \"" + printable(args.positional[1]) + "\"");
    if (all && !args.positional.empty())
        throw UsageError("give an id or --all, not both");
    if (!all && args.positional.empty())
        throw UsageError("which " + std::string(what) + "? give its id or --all (see " + std::string(list) +
                         ")");
    RowSelection selection;
    selection.connector = args.value("connector");
    if (!all) {
        selection.id = parse_id(args.positional[0], std::string(what) + " id");
        if (selection.connector)
            throw UsageError("--connector goes with --all; an id names one row already");
    }
    if (selection.connector)
        check_connector_name(*selection.connector);
    return selection;
}

asio::awaitable<std::optional<std::string>> connector_id(pg::Connection& db,
                                                         const std::optional<std::string>& name) {
    if (!name)
        co_return std::nullopt;
    const pg::Result r = co_await db.execute("SELECT id FROM connectors WHERE name = $1", pg::params(*name));
    if (r.rows() == 0)
        throw UsageError("unknown connector " + *name + " (see ferry connector list)");
    co_return text(r, 0, 0);
}

std::int64_t limit_argument(const SplitArguments& args) {
    const std::optional<std::string> value = args.value("limit");
    if (!value)
        return default_limit;
    const bool digits = !value->empty() && value->size() <= 5 &&
                        std::ranges::all_of(*value, [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoll(*value) > max_limit)
        throw UsageError("invalid --limit \"" + printable(*value) + "\": expected a whole number from 0 to " +
                         std::to_string(max_limit));
    return std::stoll(*value);
}

std::string shorten(std::string_view text, std::size_t columns) {
    std::string one_line(text);
    std::ranges::replace_if(
        one_line, [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    std::string clean = printable(one_line); // valid UTF-8 from here on
    if (display_width(clean) <= columns)
        return clean;
    std::string out;
    std::size_t width = 0;
    for (std::size_t at = 0; at < clean.size();) {
        const auto lead = static_cast<unsigned char>(clean[at]);
        const std::size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        const std::string_view code_point = std::string_view(clean).substr(at, length);
        width += display_width(code_point);
        if (width + 1 > columns) // room for the ellipsis
            break;
        out += code_point;
        at += length;
    }
    return out + "…";
}

std::string age_text(std::int64_t seconds) {
    if (seconds < 60)
        return std::to_string(std::max<std::int64_t>(seconds, 0)) + "s";
    if (seconds < 3600)
        return std::to_string(seconds / 60) + "m";
    if (seconds < 86400)
        return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

Command outbox_command() {
    return {"outbox",
            "messages waiting for delivery",
            {{"list",
              "[--connector NAME] [--limit N] [--json]",
              "list queued messages, oldest first (50 unless --limit), with how many are due and leased",
              {"connector", "limit"},
              {"json"},
              list_command},
             {"retry",
              "ID|--all [--connector NAME] [--json]",
              "make queued messages due now; those being delivered (leased) are left alone",
              {"connector"},
              {"all", "json"},
              [](CommandContext& ctx) { return bulk_command(ctx, retry_action); }},
             {"purge",
              "ID|--all [--connector NAME] --yes [--json]",
              "delete queued messages for good; those being delivered (leased) are left alone",
              {"connector"},
              {"all", "yes", "json"},
              [](CommandContext& ctx) { return bulk_command(ctx, purge_action); }}}};
}

} // namespace ferry::cli
