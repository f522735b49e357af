#include "mappings/cli/connector_command.hpp"

#include "connectors/rest/preset.hpp"
#include "connectors/rest/rest_connector.hpp"
#include "connectors/rest/template.hpp"
#include "mappings/cli/table.hpp"
#include "mappings/pg/connection.hpp"
#include "mappings/pg/error.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <ostream>
#include <vector>

namespace ferry::mappings::cli {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

/// A connector kind this ferry can run, and the settings it takes.
struct KindSpec {
    std::string_view name;
    std::vector<std::string_view> required;
    std::vector<std::string_view> optional;
};

const std::vector<KindSpec>& known_kinds() {
    static const std::vector<KindSpec> kinds = {
        {"log", {"path"}, {}},
        {"alertmanager", {}, {"token", "dedup_window"}},
        {"grafana", {}, {"token", "dedup_window"}},
        {"webhook", {}, {"token", "secret", "text", "template", "sender", "target", "id_header"}}};
    return kinds;
}

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (std::string_view w : words)
        out += (out.empty() ? "" : ", ") + std::string(w);
    return out;
}

UsageError unknown_setting(const std::string& key, const std::string& kind,
                           const std::vector<std::string_view>& allowed) {
    return UsageError("unknown setting \"" + key + "\" for connector kind " + kind +
                      " (known: " + join(allowed) + ")");
}

void check_kind_and_settings(const std::string& kind, const json& settings) {
    if (const auto* preset = connectors::rest::find_preset(kind)) {
        try {
            connectors::rest::check_settings(*preset, settings);
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
        return;
    }
    const auto& kinds = known_kinds();
    const auto spec = std::ranges::find_if(kinds, [&](const KindSpec& k) { return k.name == kind; });
    if (spec == kinds.end()) {
        std::vector<std::string_view> names;
        names.reserve(kinds.size());
        for (const KindSpec& k : kinds)
            names.push_back(k.name);
        for (const auto& preset : connectors::rest::builtin_presets())
            names.push_back(preset.kind);
        throw UsageError("unknown connector kind \"" + printable(kind) + "\" (known: " + join(names) + ")");
    }
    std::vector<std::string_view> allowed = spec->required;
    allowed.insert(allowed.end(), spec->optional.begin(), spec->optional.end());
    for (const auto& [key, value] : settings.items())
        if (std::ranges::find(allowed, key) == allowed.end())
            throw unknown_setting(key, kind, allowed);
    for (std::string_view key : spec->required)
        if (!settings.contains(key))
            throw UsageError("connector kind " + kind + " needs --setting " + std::string(key) + "=...");
    if (kind == "log" && !settings.at("path").get<std::string>().starts_with("/"))
        throw UsageError("the path setting of a log connector must be an absolute file name");
    for (const char* pointer : {"text", "sender", "target"}) {
        if (!settings.contains(pointer))
            continue;
        const std::string value = settings.at(pointer).get<std::string>();
        try {
            if (value.empty())
                throw std::invalid_argument("empty");
            nlohmann::json::json_pointer checked(value);
        } catch (const std::exception&) {
            throw UsageError(std::string(pointer) +
                             " is a JSON Pointer such as /message/text (RFC 6901), not \"" +
                             printable(value) + "\"");
        }
    }
    if (settings.contains("template")) {
        if (settings.contains("text"))
            throw UsageError("text and template are two ways to say the message text: set one");
        try {
            connectors::rest::Template checked(settings.at("template").get<std::string>());
        } catch (const connectors::rest::TemplateError& e) {
            throw UsageError(std::string("template: ") + e.what());
        }
    }
    if (settings.contains("dedup_window")) {
        const std::string window = settings.at("dedup_window").get<std::string>();
        const bool digits = !window.empty() && window.size() <= 7 &&
                            std::ranges::all_of(window, [](char c) { return c >= '0' && c <= '9'; });
        if (!digits)
            throw UsageError("dedup_window is a number of seconds (0-9999999), not \"" + printable(window) +
                             "\"");
    }
}

std::string connector_columns() {
    return "c.id, c.name, c.kind, c.settings::text, c.enabled, "
           "(SELECT count(*) FROM mappings m WHERE m.connector_id = c.id), " +
           iso_utc("c.created_at") + ", " + iso_utc("c.updated_at");
}

std::string text(const pg::Result& r, int row, int column) {
    return std::string(r.get(row, column).value_or(""));
}

/// Settings as shown: the values of a preset's secret settings (tokens, webhook URLs) are not printed.
json shown_settings(const std::string& kind, json settings) {
    const auto* preset = connectors::rest::find_preset(kind);
    for (auto& [key, value] : settings.items()) {
        const auto* spec = preset != nullptr ? preset->setting(key) : nullptr;
        if ((spec != nullptr && spec->secret) || key == "token" || key == "secret")
            value = "<redacted>";
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

asio::awaitable<int> show_command(CommandContext& ctx) {
    const std::string name = single_positional(ctx.args, "which connector? give its name");
    check_connector_name(name);
    const std::string sql = "SELECT " + connector_columns() + " FROM connectors c WHERE c.name = $1";
    const pg::Result r = co_await ctx.db.execute(sql, pg::params(name));
    if (r.rows() == 0)
        throw UsageError("unknown connector " + name + " (see ferry connector list)");
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
    return {
        "connector",
        "remote systems",
        {{"add",
          "NAME --kind KIND [--setting KEY=VALUE]... [--disabled] [--json]",
          "add a connector (kinds: log, which needs --setting path=/absolute/file.jsonl; alertmanager and "
          "grafana, webhooks at POST /hooks/NAME taking --setting token=SECRET and dedup_window=SECONDS; "
          "webhook, generic JSON taking token, secret (X-Hub-Signature-256), text, sender and target "
          "(JSON Pointers), template (the text from the body's fields, instead of text) and id_header)",
          {"kind", "setting"},
          {"disabled", "json"},
          add_command},
         {"list",
          "[--json]",
          "list the connectors and how many mappings use each",
          {},
          {"json"},
          list_command},
         {"show", "NAME [--json]", "show one connector", {}, {"json"}, show_command},
         {"remove",
          "NAME [--json]",
          "remove a connector that no mapping or queued message refers to",
          {},
          {"json"},
          remove_command}}};
}

} // namespace ferry::mappings::cli
