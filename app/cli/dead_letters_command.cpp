#include "app/cli/dead_letters_command.hpp"

#include "app/cli/connector_command.hpp"
#include "app/cli/outbox_command.hpp"
#include "app/cli/table.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

namespace ferry::cli {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

constexpr std::size_t reason_columns = 60;

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

// The count and the rows in one snapshot; one row of NULLs after the count when none matches.
// Columns: 0 total, 1.. one dead letter.
std::string list_sql() {
    return "WITH s AS (SELECT count(*) AS total FROM dead_letters d "
           "WHERE ($1::bigint IS NULL OR d.connector_id = $1)), "
           "r AS (SELECT d.id, d.idempotency_key, c.name, d.conversation, d.destination, d.attempts, "
           "d.reason, " +
           iso_utc("d.enqueued_at") + " AS enqueued_at, " + iso_utc("d.failed_at") +
           " AS failed_at FROM dead_letters d JOIN connectors c ON c.id = d.connector_id "
           "WHERE ($1::bigint IS NULL OR d.connector_id = $1) ORDER BY d.id LIMIT $2) "
           "SELECT s.total, r.* FROM s LEFT JOIN r ON true ORDER BY r.id";
}

json dead_letter_json(const pg::Result& r, int row) {
    return {{"id", std::stoll(text(r, row, 1))}, {"idempotency_key", text(r, row, 2)},
            {"connector", text(r, row, 3)},      {"conversation", text(r, row, 4)},
            {"destination", text(r, row, 5)},    {"attempts", std::stoll(text(r, row, 6))},
            {"reason", text(r, row, 7)},         {"enqueued_at", text(r, row, 8)},
            {"failed_at", text(r, row, 9)}};
}

void print_dead_letters(std::ostream& out, std::int64_t total, const json& letters, bool filtered) {
    if (total == 0) {
        out << (filtered ? "no dead letters for this connector\n" : "no dead letters\n");
        return;
    }
    if (!letters.empty()) {
        Table table({"ID", "CONNECTOR", "DESTINATION", "ATTEMPTS", "REASON", "FAILED AT (UTC)"});
        for (const json& d : letters)
            table.add_row({std::to_string(d["id"].get<std::int64_t>()), d["connector"], d["destination"],
                           std::to_string(d["attempts"].get<std::int64_t>()),
                           shorten(d["reason"].get<std::string>(), reason_columns), d["failed_at"]});
        table.print(out);
    }
    out << total << " dead letter(s)";
    if (static_cast<std::int64_t>(letters.size()) < total)
        out << " (showing the oldest " << letters.size() << "; --limit N for more)";
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
    const std::int64_t total = std::stoll(text(r, 0, 0));
    json letters = json::array();
    for (int row = 0; row < r.rows(); ++row)
        if (r.get(row, 1))
            letters.push_back(dead_letter_json(r, row));
    if (ctx.args.has("json"))
        ctx.out << json{{"total", total}, {"messages", letters}}.dump() << '\n';
    else
        print_dead_letters(ctx.out, total, letters, connector.has_value());
    co_return 0;
}

// One statement, hence one transaction: the selected dead letters are deleted and inserted into the outbox
// together, or neither happens. A dead letter whose idempotency key is queued in the outbox already stays
// where it is (m.queued): moving it would fail on the outbox's unique key, and that message is on its way.
// The outbox fills in attempts 0, next_attempt_at now() and created_at now(), so that the age limit on
// deliveries counts from the retry.
constexpr std::string_view retry_sql =
    "WITH m AS (SELECT d.id, EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = d.idempotency_key) "
    "AS queued FROM dead_letters d "
    "WHERE ($1::bigint IS NULL OR d.id = $1) AND ($2::bigint IS NULL OR d.connector_id = $2)), "
    "gone AS (DELETE FROM dead_letters d USING m WHERE d.id = m.id AND NOT m.queued RETURNING d.*), "
    "moved AS (INSERT INTO outbox (idempotency_key, connector_id, conversation, destination, payload) "
    "SELECT idempotency_key, connector_id, conversation, destination, payload FROM gone ORDER BY id "
    "RETURNING id) "
    "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM moved), (SELECT count(*) FROM m WHERE queued)";

asio::awaitable<int> retry_command(CommandContext& ctx) {
    const RowSelection selection = row_selection(ctx.args, "dead letter", "ferry dead-letters list");
    const std::optional<std::string> connector_key = co_await connector_id(ctx.db, selection.connector);
    std::optional<std::string> id;
    if (selection.id)
        id = std::to_string(*selection.id);
    pg::Result r;
    bool raced = false;
    try {
        r = co_await ctx.db.execute(retry_sql, pg::params(id, connector_key));
    } catch (const pg::Error& e) {
        if (e.sqlstate() != "23505") // unique_violation: the key was queued between our check and insert
            throw;
        raced = true;
    }
    if (raced)
        throw UsageError("a message with the same idempotency key was queued meanwhile; nothing was moved, "
                         "try again");
    const std::int64_t matched = std::stoll(text(r, 0, 0));
    const std::int64_t moved = std::stoll(text(r, 0, 1));
    const std::int64_t queued = std::stoll(text(r, 0, 2));
    if (id && matched == 0)
        throw UsageError("no dead letter with id " + *id + " (see ferry dead-letters list)");
    if (id && queued > 0)
        throw UsageError("dead letter " + *id +
                         " is queued in the outbox already (same idempotency key); left as it is");
    if (moved > 0)
        co_await ctx.db.execute("SELECT pg_notify('ferry_outbox', '')"); // wakes the dispatchers now
    if (ctx.args.has("json")) {
        ctx.out << json{{"retried", moved}, {"skipped_queued", queued}}.dump() << '\n';
        co_return 0;
    }
    ctx.out << "moved " << moved << " dead letter(s) back to the outbox, due now";
    if (queued > 0)
        ctx.out << "; skipped " << queued << " already queued in the outbox (same idempotency key)";
    ctx.out << '\n';
    co_return 0;
}

} // namespace

Command dead_letters_command() {
    return {"dead-letters",
            "messages given up on",
            {{"list",
              "[--connector NAME] [--limit N] [--json]",
              "list dead letters, oldest first (50 unless --limit), with why they failed",
              {"connector", "limit"},
              {"json"},
              list_command},
             {"retry",
              "ID|--all [--connector NAME] [--json]",
              "move dead letters back into the outbox (same idempotency key, attempts 0, due now)",
              {"connector"},
              {"all", "json"},
              retry_command}}};
}

} // namespace ferry::cli
