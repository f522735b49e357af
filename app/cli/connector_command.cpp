#include "app/cli/connector_command.hpp"

#include "app/cli/table.hpp"
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/store/mapping.hpp"
#include "connectors/families.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <ostream>
#include <vector>

namespace ferry::cli {

using namespace store; // the CLI speaks the store's language throughout

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

std::string join(const std::vector<std::string_view>& words, std::string_view separator = ", ") {
    std::string out;
    for (std::string_view w : words)
        out += (out.empty() ? "" : std::string(separator)) + std::string(w);
    return out;
}

const core::KindSpec& kind_named(const std::string& kind) {
    if (const core::KindSpec* found = connectors::families().find_kind(kind))
        return *found;
    std::vector<std::string_view> names;
    for (const core::KindSpec* k : connectors::families().kinds())
        names.push_back(k->name);
    throw UsageError("unknown connector kind \"" + printable(kind) + "\" (known: " + join(names) + ")");
}

/// Every setting is text and not empty; an empty secret most often comes from a shell variable that was
/// not set, and would leave what it guards open.
void check_setting_values(const core::KindSpec& kind, const json& settings) {
    for (const auto& [key, value] : settings.items()) {
        const core::SettingSpec* spec = kind.setting(key);
        if (spec == nullptr) {
            std::vector<std::string_view> allowed;
            for (const core::SettingSpec& s : kind.settings)
                allowed.push_back(s.name);
            throw UsageError("unknown setting \"" + key + "\" for connector kind " + kind.name +
                             " (known: " + join(allowed) + ")");
        }
        if (!value.is_string())
            throw UsageError("setting " + key + " must be text");
        if (value.get<std::string>().empty())
            throw UsageError("--setting " + key + " is empty" +
                             (spec->secret
                                  ? ": a secret must be set (was the shell variable it came from unset?)"
                                  : "; leave it out (or --unset it) for the default"));
    }
    for (const core::SettingSpec& spec : kind.settings)
        if (spec.required && !settings.contains(spec.name))
            throw UsageError("connector kind " + kind.name + " needs --setting " + spec.name + "=... (" +
                             spec.help + ")");
}

/// A kind that only receives takes requests from anyone who can reach Ferry unless it authenticates them:
/// one of its authenticating settings, or the operator's explicit auth=none.
void check_authentication(const core::KindSpec& kind, const json& ordered) {
    const nlohmann::json settings = ordered;
    const std::string auth = store::text_setting(settings, "auth");
    if (!auth.empty() && auth != core::no_authentication)
        throw UsageError("auth takes one value, none (to take requests without authentication), not \"" +
                         printable(auth) + "\"");
    if (kind.authenticated_by.empty())
        return;
    std::vector<std::string_view> by(kind.authenticated_by.begin(), kind.authenticated_by.end());
    const bool open = core::open_by_choice(settings);
    if (open && core::authenticated(kind, settings))
        throw UsageError("auth=none and " + join(by, " or ") + " contradict each other: give one");
    if (!open && !core::authenticated(kind, settings))
        throw UsageError("a " + kind.name +
                         " connector would take requests from anyone who can reach Ferry: give " +
                         "--setting " + join(by, "=… or --setting ") +
                         "=… (e.g. token=$(openssl rand -hex 16)), or --setting auth=none to take requests "
                         "without authentication");
}

/// What the kind checks beyond names and values (a preset its own rules, a log connector an absolute path).
void check_kind_specific(const core::KindSpec& kind, const json& settings) {
    if (!kind.check_settings)
        return;
    try {
        kind.check_settings(settings);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
}

void check_kind_and_settings(const std::string& kind, const json& settings) {
    const core::KindSpec& spec = kind_named(kind);
    check_setting_values(spec, settings);
    check_kind_specific(spec, settings);
    check_authentication(spec, settings);
}

std::string connector_columns() {
    return "c.id, c.name, c.kind, c.settings::text, c.enabled, "
           "(SELECT count(*) FROM mappings m WHERE m.connector_id = c.id), " +
           iso_utc("c.created_at") + ", " + iso_utc("c.updated_at");
}

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

/// Settings as shown: the values the kind declares secret are not printed (an empty one, left by an older
/// ferry, shows as such); a setting the kind does not know is not printed either.
json shown_settings(const std::string& kind, json settings) {
    const core::KindSpec* spec = connectors::families().find_kind(kind);
    for (auto& [key, value] : settings.items()) {
        const core::SettingSpec* setting = spec != nullptr ? spec->setting(key) : nullptr;
        if (setting != nullptr && !setting->secret)
            continue;
        value = value.is_string() && value.get<std::string>().empty() ? "<empty>" : "<redacted>";
    }
    return settings;
}

json connector_json(const pg::Result& r, int row) {
    return {{"id", std::stoll(text(r, row, 0))},
            {"name", text(r, row, 1)},
            {"kind", text(r, row, 2)},
            {"settings", shown_settings(text(r, row, 2), json::parse(text(r, row, 3)))},
            {"enabled", text(r, row, 4) == "t"},
            {"mappings", std::stoll(text(r, row, 5))},
            {"created_at", text(r, row, 6)},
            {"updated_at", text(r, row, 7)}};
}

void print_connector(std::ostream& out, const json& c) {
    print_record(out, {{"name", c["name"]},
                       {"kind", c["kind"]},
                       {"enabled", yes_no(c["enabled"])},
                       {"settings", show_key_values(c["settings"])},
                       {"mappings", std::to_string(c["mappings"].get<std::int64_t>())},
                       {"created", c["created_at"]},
                       {"updated", c["updated_at"]}});
}

void print_connectors(std::ostream& out, const pg::Result& r, bool as_json) {
    json all = json::array();
    for (int row = 0; row < r.rows(); ++row)
        all.push_back(connector_json(r, row));
    if (as_json) {
        out << all.dump() << '\n';
        return;
    }
    if (all.empty()) {
        out << "no connectors (add one with: ferry connector add NAME --kind KIND)\n";
        return;
    }
    Table table({"NAME", "KIND", "ENABLED", "MAPPINGS", "SETTINGS"});
    for (const json& c : all)
        table.add_row({c["name"], c["kind"], yes_no(c["enabled"]),
                       std::to_string(c["mappings"].get<std::int64_t>()), show_key_values(c["settings"])});
    table.print(out);
}

asio::awaitable<int> add_command(CommandContext& ctx) {
    const std::string name = single_positional(ctx.args, "which name? give the new connector's name");
    check_connector_name(name);
    const std::string kind = required_flag(ctx.args, "kind");
    const json settings = key_values(ctx.args, "setting");
    check_kind_and_settings(kind, settings);
    const bool enabled = !ctx.args.has("disabled");
    const std::string sql = "WITH c AS (INSERT INTO connectors (name, kind, settings, enabled) "
                            "VALUES ($1, $2, $3::jsonb, $4::boolean) "
                            "ON CONFLICT (name) DO NOTHING RETURNING *) "
                            "SELECT " +
                            connector_columns() + " FROM c";
    const pg::Result r = co_await ctx.db.execute(
        sql, pg::params(name, kind, settings.dump(), std::string(enabled ? "true" : "false")));
    if (r.rows() == 0)
        throw UsageError("connector " + name + " already exists");
    if (ctx.args.has("json"))
        ctx.out << connector_json(r, 0).dump() << '\n';
    else
        ctx.out << "added connector " << name << " (kind " << kind << (enabled ? "" : ", disabled") << ")\n";
    co_return 0;
}

asio::awaitable<int> list_command(CommandContext& ctx) {
    single_positional(ctx.args, "");
    const std::string sql = "SELECT " + connector_columns() + " FROM connectors c ORDER BY c.name";
    const pg::Result r = co_await ctx.db.execute(sql);
    print_connectors(ctx.out, r, ctx.args.has("json"));
    co_return 0;
}

asio::awaitable<int> set_command(CommandContext& ctx) {
    const std::string name = single_positional(ctx.args, "which connector? give its name");
    check_connector_name(name);
    const json given = key_values(ctx.args, "setting");
    const std::vector<std::string> unset = ctx.args.values("unset");
    if (given.empty() && unset.empty())
        throw UsageError("nothing to change: give --setting KEY=VALUE or --unset KEY");
    const pg::Result current = co_await ctx.db.execute(
        "SELECT kind, settings::text FROM connectors WHERE name = $1", pg::params(name));
    if (current.rows() == 0)
        throw UsageError("unknown connector " + name + " (see ferry connector list)");
    const std::string kind = text(current, 0, 0);
    const std::string before = text(current, 0, 1);
    json settings = json::parse(before);
    for (const std::string& key : unset) {
        if (given.contains(key))
            throw UsageError("--unset " + printable(key) + " and --setting " + printable(key) +
                             "=... contradict each other");
        if (!settings.contains(key))
            throw UsageError("connector " + name + " has no setting " + printable(key) + " to unset");
        settings.erase(key);
    }
    for (const auto& [key, value] : given.items())
        settings[key] = value;
    check_kind_and_settings(kind, settings);
    // Only as it was read: a change made meanwhile by someone else is not overwritten unseen.
    const std::string sql = "WITH c AS (UPDATE connectors SET settings = $2::jsonb, updated_at = now() "
                            "WHERE name = $1 AND settings = $3::jsonb RETURNING *) SELECT " +
                            connector_columns() + " FROM c";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(name, settings.dump(), before));
    if (r.rows() == 0)
        throw UsageError("connector " + name + " was changed while this command ran; run it again");
    if (ctx.args.has("json")) {
        ctx.out << connector_json(r, 0).dump() << '\n';
        co_return 0;
    }
    std::vector<std::string_view> changed;
    for (const auto& [key, value] : given.items())
        changed.push_back(key);
    ctx.out << "updated connector " << name;
    if (!changed.empty())
        ctx.out << ": set " << join(changed);
    if (!unset.empty())
        ctx.out << (changed.empty() ? ": " : "; ") << "unset "
                << join(std::vector<std::string_view>(unset.begin(), unset.end()));
    ctx.out << " (running Ferry processes take it within a second)\n";
    co_return 0;
}

asio::awaitable<int> show_command(CommandContext& ctx) {
    const std::string name = single_positional(ctx.args, "which connector? give its name");
    check_connector_name(name);
    const std::string sql = "SELECT " + connector_columns() + " FROM connectors c WHERE c.name = $1";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(name));
    if (r.rows() == 0)
        throw UsageError("unknown connector " + name + " (see ferry connector list)");
    if (const std::optional<std::string> key = ctx.args.value("reveal")) {
        // Asked for by name: the value alone, so that a script can take it ($(ferry connector show …)).
        const json settings = json::parse(text(r, 0, 3));
        const auto found = settings.find(*key);
        if (found == settings.end() || !found->is_string())
            throw UsageError("connector " + name + " has no setting " + printable(*key));
        ctx.out << found->get<std::string>() << '\n';
        co_return 0;
    }
    if (ctx.args.has("json"))
        ctx.out << connector_json(r, 0).dump() << '\n';
    else
        print_connector(ctx.out, connector_json(r, 0));
    co_return 0;
}

asio::awaitable<int> remove_command(CommandContext& ctx) {
    const std::string name = single_positional(ctx.args, "which connector? give its name");
    check_connector_name(name);
    const std::string sql = "WITH c AS (DELETE FROM connectors WHERE name = $1 RETURNING *) SELECT " +
                            connector_columns() + " FROM c";
    pg::Result r;
    bool referenced = false;
    try {
        r = co_await ctx.db.execute(sql, pg::params(name));
    } catch (const pg::Error& e) {
        if (e.sqlstate() != "23503") // foreign_key_violation: mappings, outbox or dead letters refer to it
            throw;
        referenced = true;
    }
    if (referenced) {
        const pg::Result n =
            co_await ctx.db.execute("SELECT (SELECT count(*) FROM mappings m WHERE m.connector_id = c.id), "
                                    "(SELECT count(*) FROM outbox o WHERE o.connector_id = c.id), "
                                    "(SELECT count(*) FROM dead_letters d WHERE d.connector_id = c.id) "
                                    "FROM connectors c WHERE c.name = $1",
                                    pg::params(name));
        const std::string mappings = n.rows() ? text(n, 0, 0) : "0";
        if (mappings != "0")
            throw UsageError("connector " + name + " still has " + mappings +
                             " mapping(s); remove them first");
        throw UsageError("connector " + name + " still has " + (n.rows() ? text(n, 0, 1) : "0") +
                         " message(s) waiting in the outbox and " + (n.rows() ? text(n, 0, 2) : "0") +
                         " dead letter(s); let the outbox drain and clear its dead letters first");
    }
    if (r.rows() == 0)
        throw UsageError("unknown connector " + name + " (see ferry connector list)");
    if (ctx.args.has("json"))
        ctx.out << connector_json(r, 0).dump() << '\n';
    else
        ctx.out << "removed connector " << name << '\n';
    co_return 0;
}

} // namespace

std::string single_positional(const SplitArguments& args, std::string_view what) {
    if (what.empty()) {
        if (!args.positional.empty())
            throw UsageError("unexpected argument \"" + printable(args.positional[0]) + "\"");
        return {};
    }
    if (args.positional.empty())
        throw UsageError(std::string(what));
    if (args.positional.size() > 1)
        throw UsageError("unexpected argument \"" + printable(args.positional[1]) + "\"");
    return args.positional[0];
}

std::string required_flag(const SplitArguments& args, std::string_view name) {
    const std::optional<std::string> value = args.value(name);
    if (!value)
        throw UsageError("--" + std::string(name) + " is required");
    if (value->empty())
        throw UsageError("--" + std::string(name) + " must not be empty");
    return *value;
}

json key_values(const SplitArguments& args, std::string_view flag) {
    json object = json::object();
    for (const std::string& item : args.values(flag)) {
        const auto equals = item.find('=');
        const std::string key = item.substr(0, equals);
        const bool key_ok = !key.empty() && key.size() <= 64 && std::ranges::all_of(key, [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '.' || c == '-';
        });
        if (equals == std::string::npos || !key_ok)
            throw UsageError("--" + std::string(flag) + " \"" + printable(item) +
                             "\": expected key=value, the key made of letters, digits, '_', '.' or '-'");
        if (object.contains(key))
            throw UsageError("--" + std::string(flag) + " " + key + " is given twice");
        const std::string value = item.substr(equals + 1);
        if (!valid_utf8(value))
            throw UsageError("--" + std::string(flag) + " " + key + ": the value is not valid UTF-8");
        object[key] = value;
    }
    return object;
}

void check_connector_name(std::string_view name) {
    const auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    const bool ok = !name.empty() && name.size() <= 63 && allowed(name[0]) &&
                    std::ranges::all_of(name, [&](char c) { return allowed(c) || c == '_' || c == '-'; });
    if (!ok)
        throw UsageError(
            "invalid connector name \"" + printable(name) +
            "\": use 1 to 63 lowercase letters, digits, '_' or '-', beginning with a letter or digit");
}

std::int64_t parse_id(std::string_view text, std::string_view what) {
    std::int64_t id = 0;
    const bool digits =
        !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (!digits || ec != std::errc() || end != text.data() + text.size() || id < 1)
        throw UsageError("invalid " + std::string(what) + " \"" + printable(text) +
                         "\": expected a positive whole number");
    return id;
}

std::string show_key_values(const json& object) {
    std::string out;
    for (const auto& [key, value] : object.items())
        out += (out.empty() ? "" : " ") + key + "=" +
               (value.is_string() ? value.get<std::string>() : value.dump());
    return out.empty() ? "-" : out;
}

std::string iso_utc(std::string_view column) {
    return "to_char(" + std::string(column) + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
}

Command connector_command() {
    return {"connector",
            "remote systems",
            {{"add",
              "NAME --kind KIND [--setting KEY=VALUE]... [--disabled] [--json]",
              "add a connector (kinds and their settings: ferry help kinds). A kind that only receives "
              "(alertmanager, grafana, webhook) needs its token or secret, or --setting auth=none",
              {"kind", "setting"},
              {"disabled", "json"},
              add_command},
             {"list",
              "[--json]",
              "list the connectors and how many mappings use each",
              {},
              {"json"},
              list_command},
             {"set",
              "NAME [--setting KEY=VALUE]... [--unset KEY]... [--json]",
              "change a connector's settings, checked as add checks them; running processes take the change "
              "within a second",
              {"setting", "unset"},
              {"json"},
              set_command},
             {"show",
              "NAME [--reveal KEY] [--json]",
              "show one connector (secret settings as <redacted>); --reveal KEY prints that setting's value "
              "alone",
              {"reveal"},
              {"json"},
              show_command},
             {"remove",
              "NAME [--json]",
              "remove a connector that no mapping or queued message refers to",
              {},
              {"json"},
              remove_command}}};
}

} // namespace ferry::cli
