#include "app/cli/account_command.hpp"

#include "app/cli/connector_command.hpp"
#include "app/cli/mapping_command.hpp"
#include "app/cli/table.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/store/accounts/account_store.hpp"

#include <iostream>
#include <iterator>
#include <ostream>

namespace ferry::cli {

using namespace store; // the CLI speaks the store's language throughout

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

constexpr std::size_t max_secret_size = std::size_t{64} * 1024;

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

/// The secret, from standard input (never from the command line, where `ps` and shell history show it).
std::string read_secret() {
    std::string secret((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (secret.ends_with("\r\n"))
        secret.resize(secret.size() - 2);
    else if (secret.ends_with('\n'))
        secret.pop_back();
    if (secret.empty())
        throw UsageError("--secret-stdin: standard input is empty; pipe the secret in");
    if (secret.size() > max_secret_size)
        throw UsageError("--secret-stdin: the secret is longer than 64 KiB");
    return secret;
}

asio::awaitable<std::int64_t> connector_id(CommandContext& ctx, const std::string& name) {
    check_connector_name(name);
    const pg::Result r =
        co_await ctx.db.execute("SELECT id FROM connectors WHERE name = $1", pg::params(name));
    if (r.rows() == 0)
        throw UsageError("unknown connector " + name + " (see ferry connector list)");
    co_return std::stoll(text(r, 0, 0));
}

// The secret itself is never selected: the CLI only says whether there is one.
constexpr std::string_view account_columns =
    "a.id, a.jid, c.name, a.remote_identity, a.secret_ciphertext IS NOT NULL, a.settings::text, "
    "to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

json account_json(const pg::Result& r, int row) {
    return {{"id", std::stoll(text(r, row, 0))},    {"jid", text(r, row, 1)},
            {"connector", text(r, row, 2)},         {"remote", text(r, row, 3)},
            {"has_secret", text(r, row, 4) == "t"}, {"settings", json::parse(text(r, row, 5))},
            {"created_at", text(r, row, 6)}};
}

std::string account_jid(const SplitArguments& args) {
    return mapping_address(single_positional(args, "which JID? give the account's bare JID"),
                           "an account belongs to a bare JID, not a full JID");
}

std::string secret_word(const json& account) {
    return account["has_secret"].get<bool>() ? "stored (encrypted)" : "none";
}

asio::awaitable<int> add_command(CommandContext& ctx) {
    Account account;
    account.jid = account_jid(ctx.args);
    const std::string connector = required_flag(ctx.args, "connector");
    account.remote_identity = required_flag(ctx.args, "remote");
    if (!valid_utf8(account.remote_identity) || account.remote_identity.size() > 2048)
        throw UsageError("--remote must be valid UTF-8 of at most 2048 bytes");
    account.settings = nlohmann::json::parse(key_values(ctx.args, "setting").dump());
    std::optional<SecretBox> box;
    if (ctx.args.has("secret-stdin")) {
        if (ctx.config.database.secret_key.empty())
            throw UsageError(
                "storing a secret needs database.secret_key: set FERRY_DATABASE_SECRET_KEY (or "
                "[database] secret_key) to 32 random bytes in base64, e.g. `openssl rand -base64 "
                "32`, and keep it in the same place every ferry process reads");
        box = SecretBox::from_base64(ctx.config.database.secret_key);
        account.secret = read_secret();
    }
    account.connector_id = co_await connector_id(ctx, connector);
    const std::optional<std::int64_t> id = co_await add_account(ctx.db, box ? &*box : nullptr, account);
    if (!id)
        throw UsageError(account.jid + " already has an account with connector " + connector +
                         " (remove it first to replace it)");
    if (ctx.args.has("json")) {
        const pg::Result r = co_await ctx.db.execute(
            "SELECT " + std::string(account_columns) +
                " FROM accounts a JOIN connectors c ON c.id = a.connector_id WHERE a.id = $1::bigint",
            pg::params(std::to_string(*id)));
        ctx.out << account_json(r, 0).dump() << '\n';
    } else {
        ctx.out << "added account " << account.jid << " on connector " << connector << " as "
                << printable(account.remote_identity) << (account.secret ? ", secret stored encrypted" : "")
                << '\n';
    }
    co_return 0;
}

asio::awaitable<int> list_command(CommandContext& ctx) {
    single_positional(ctx.args, "");
    const std::optional<std::string> connector = ctx.args.value("connector");
    if (connector)
        co_await connector_id(ctx, *connector); // an unknown name is an error, not an empty list
    const pg::Result r =
        co_await ctx.db.execute("SELECT " + std::string(account_columns) +
                                    " FROM accounts a JOIN connectors c ON c.id = a.connector_id "
                                    "WHERE $1::text IS NULL OR c.name = $1 ORDER BY a.jid, c.name",
                                pg::params(connector));
    json all = json::array();
    for (int row = 0; row < r.rows(); ++row)
        all.push_back(account_json(r, row));
    if (ctx.args.has("json")) {
        ctx.out << all.dump() << '\n';
        co_return 0;
    }
    if (all.empty()) {
        ctx.out << "no accounts (add one with: ferry account add JID --connector NAME --remote ID)\n";
        co_return 0;
    }
    Table table({"JID", "CONNECTOR", "REMOTE", "SECRET", "SETTINGS"});
    for (const json& a : all)
        table.add_row(
            {a["jid"], a["connector"], a["remote"], secret_word(a), show_key_values(a["settings"])});
    table.print(ctx.out);
    co_return 0;
}

asio::awaitable<int> show_or_remove(CommandContext& ctx, bool remove) {
    const std::string jid = account_jid(ctx.args);
    const std::string connector = required_flag(ctx.args, "connector");
    const std::int64_t id = co_await connector_id(ctx, connector);
    const std::string where = " WHERE a.jid = $1 AND a.connector_id = $2::bigint";
    const std::string sql =
        remove ? "WITH a AS (DELETE FROM accounts a" + where + " RETURNING a.*) SELECT " +
                     std::string(account_columns) + " FROM a JOIN connectors c ON c.id = a.connector_id"
               : "SELECT " + std::string(account_columns) +
                     " FROM accounts a JOIN connectors c ON c.id = a.connector_id" + where;
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(jid, std::to_string(id)));
    if (r.rows() == 0)
        throw UsageError(jid + " has no account with connector " + connector + " (see ferry account list)");
    const json account = account_json(r, 0);
    if (ctx.args.has("json"))
        ctx.out << account.dump() << '\n';
    else if (remove)
        ctx.out << "removed account " << jid << " on connector " << connector << '\n';
    else
        print_record(ctx.out, {{"jid", account["jid"]},
                               {"connector", account["connector"]},
                               {"remote", account["remote"]},
                               {"secret", secret_word(account)},
                               {"settings", show_key_values(account["settings"])},
                               {"created", account["created_at"]}});
    co_return 0;
}

} // namespace

Command account_command() {
    return {"account",
            "a JID's registration with a connector, and its secret",
            {{"add",
              "JID --connector NAME --remote ID [--setting KEY=VALUE]... [--secret-stdin] [--json]",
              "register a JID with a connector; --secret-stdin reads its credential from standard input and "
              "stores it encrypted with database.secret_key",
              {"connector", "remote", "setting"},
              {"secret-stdin", "json"},
              add_command},
             {"list",
              "[--connector NAME] [--json]",
              "list the accounts (whether a secret is stored, never the secret)",
              {"connector"},
              {"json"},
              list_command},
             {"show",
              "JID --connector NAME [--json]",
              "show one account",
              {"connector"},
              {"json"},
              [](CommandContext& ctx) { return show_or_remove(ctx, false); }},
             {"remove",
              "JID --connector NAME [--json]",
              "remove an account and its secret",
              {"connector"},
              {"json"},
              [](CommandContext& ctx) { return show_or_remove(ctx, true); }}}};
}

} // namespace ferry::cli
