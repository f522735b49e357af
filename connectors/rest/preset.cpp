#include "connectors/rest/preset.hpp"

#include "connectors/rest/preset_sources.hpp"

#include <algorithm>

namespace ferry::connectors::rest {

namespace {

using json = nlohmann::json;

/// Reads `document[key]` as T, or `fallback` when absent; a wrong type is a PresetError naming the key.
template <typename T> T read(const json& document, const char* key, T fallback, const std::string& where) {
    const auto found = document.find(key);
    if (found == document.end())
        return fallback;
    try {
        return found->get<T>();
    } catch (const json::exception&) {
        throw PresetError(where + ": \"" + key + "\" has the wrong type");
    }
}

void check_pointer(const std::string& pointer, const std::string& where) {
    if (pointer.empty())
        return;
    try {
        json::json_pointer checked(pointer);
    } catch (const json::exception&) {
        throw PresetError(where + ": \"" + pointer + "\" is not a JSON Pointer");
    }
}

/// The keys of a pointer → value object (`ok_when`, `only`, `format_when`) are JSON Pointers.
void check_pointer_keys(const json& conditions, const std::string& where) {
    for (const auto& [pointer, value] : conditions.items())
        check_pointer(pointer, where);
}

void check_template(const json& value, const std::string& where) {
    try {
        check_json_template(value);
    } catch (const TemplateError& e) {
        throw PresetError(where + ": " + e.what());
    }
}

SendSpec parse_send(const json& document, const std::string& where) {
    SendSpec send;
    send.method = read<std::string>(document, "method", "POST", where);
    if (send.method != "POST" && send.method != "PUT" && send.method != "PATCH" && send.method != "DELETE")
        throw PresetError(where + ": method is POST, PUT, PATCH or DELETE");
    send.url = read<std::string>(document, "url", "", where);
    if (send.url.empty())
        throw PresetError(where + ": a url template is needed");
    check_template(send.url, where + ".url");
    send.headers = read<json>(document, "headers", json::object(), where);
    check_template(send.headers, where + ".headers");
    send.body = read<json>(document, "body", json::object(), where);
    check_template(send.body, where + ".body");
    try {
        send.format = parse_escape(read<std::string>(document, "format", "plain", where));
    } catch (const TemplateError& e) {
        throw PresetError(where + ".format: " + e.what());
    }
    send.ok_when = read<json>(document, "ok_when", json::object(), where);
    check_pointer_keys(send.ok_when, where + ".ok_when");
    send.error_at = read<std::string>(document, "error_at", "", where);
    check_pointer(send.error_at, where + ".error_at");
    send.transient_errors = read<std::vector<std::string>>(document, "transient_errors", {}, where);
    send.remote_id = read<std::string>(document, "remote_id", "", where);
    check_pointer(send.remote_id, where + ".remote_id");
    const json retry_after = read<json>(document, "retry_after", json::array(), where);
    for (const json& source : retry_after) {
        RetryAfterSource parsed;
        parsed.header = read<std::string>(source, "header", "", where + ".retry_after");
        parsed.pointer = read<std::string>(source, "pointer", "", where + ".retry_after");
        check_pointer(parsed.pointer, where + ".retry_after");
        const std::string unit = read<std::string>(source, "unit", "s", where + ".retry_after");
        if (unit != "s" && unit != "ms")
            throw PresetError(where + ".retry_after: unit is s or ms");
        parsed.milliseconds_per_unit = unit == "s" ? 1000 : 1;
        send.retry_after.push_back(std::move(parsed));
    }
    send.pace_ms = read<int>(document, "pace_ms", 0, where);
    send.threads = read<bool>(document, "threads", false, where);
    return send;
}

std::optional<ChangeSpec> parse_change(const json& document, const char* key, const ReceiveSpec& receive,
                                       const std::string& where) {
    const auto found = document.find(key);
    if (found == document.end())
        return std::nullopt;
    const std::string at = where + "." + key;
    if (!found->is_object())
        throw PresetError(at + ": an object is needed");
    ChangeSpec change;
    change.events = read<std::string>(*found, "events", receive.events, at);
    change.only = read<json>(*found, "only", json::object(), at);
    change.format_when = read<json>(*found, "format_when", receive.format_when, at);
    check_pointer_keys(change.format_when, at + ".format_when");
    change.skip_if_present = read<std::vector<std::string>>(*found, "skip_if_present", {}, at);
    change.channel = read<std::string>(*found, "channel", receive.channel, at);
    change.sender = read<std::string>(*found, "sender", receive.sender, at);
    change.sender_name = read<std::string>(*found, "sender_name", receive.sender_name, at);
    change.text = read<std::string>(*found, "text", "", at);
    change.entities = read<std::string>(*found, "entities", "", at);
    check_pointer(change.entities, at + ".entities");
    const json refers_to = read<json>(*found, "refers_to", json(), at);
    if (refers_to.is_string())
        change.refers_to.push_back(refers_to.get<std::string>());
    else if (refers_to.is_array())
        change.refers_to = read<std::vector<std::string>>(*found, "refers_to", {}, at);
    change.previous_text = read<std::string>(*found, "previous_text", "", at);
    if (change.only.empty() && change.events == receive.events)
        throw PresetError(at + ": \"only\" must tell its events from messages");
    if (change.refers_to.empty())
        throw PresetError(at + ": refers_to (the changed message's id) is needed");
    for (const std::string* pointer : {&change.events, &change.channel, &change.sender, &change.sender_name,
                                       &change.text, &change.previous_text})
        check_pointer(*pointer, at);
    for (const std::string& pointer : change.refers_to)
        check_pointer(pointer, at + ".refers_to");
    check_pointer_keys(change.only, at + ".only");
    return change;
}

ReceiveSpec parse_receive(const json& document, const std::string& where) {
    ReceiveSpec receive;
    const json verify = read<json>(document, "verify", json::object(), where);
    receive.verify.scheme = read<std::string>(verify, "scheme", "none", where + ".verify");
    static constexpr std::string_view schemes[] = {"slack_v0", "token_field", "bearer", "header", "none"};
    if (std::ranges::find(schemes, receive.verify.scheme) == std::end(schemes))
        throw PresetError(where + ".verify: unknown scheme " + receive.verify.scheme);
    receive.verify.setting = read<std::string>(verify, "setting", "", where + ".verify");
    receive.verify.where = read<std::string>(verify, "where", "", where + ".verify");
    receive.method = read<std::string>(document, "method", "POST", where);
    receive.content = read<std::string>(document, "content", "json", where);
    if (receive.content != "json" && receive.content != "form")
        throw PresetError(where + ": content is json or form");
    receive.challenge = read<json>(document, "challenge", json::object(), where);
    receive.events = read<std::string>(document, "events", "", where);
    receive.only = read<json>(document, "only", json::object(), where);
    receive.skip_if_present = read<std::vector<std::string>>(document, "skip_if_present", {}, where);
    receive.skip_sender_prefix_setting = read<std::string>(document, "skip_sender_prefix_setting", "", where);
    receive.id = read<std::string>(document, "id", "", where);
    receive.channel = read<std::string>(document, "channel", "", where);
    receive.sender = read<std::string>(document, "sender", "", where);
    receive.sender_name = read<std::string>(document, "sender_name", "", where);
    receive.text = read<std::string>(document, "text", "", where);
    receive.entities = read<std::string>(document, "entities", "", where);
    receive.message_id = read<std::string>(document, "message_id", "", where);
    receive.reply_to = read<std::string>(document, "reply_to", "", where);
    receive.strip_reply_quote = read<bool>(document, "strip_reply_quote", false, where);
    receive.format = read<std::string>(document, "format", "plain", where);
    receive.format_when = read<json>(document, "format_when", json::object(), where);
    check_pointer_keys(receive.format_when, where + ".format_when");
    receive.reply = read<json>(document, "reply", json::object(), where);
    if (const auto poll = document.find("poll"); poll != document.end()) {
        const std::string at = where + ".poll";
        PollSpec spec;
        spec.enabled_by = read<std::string>(*poll, "enabled_by", "poll", at);
        spec.method = read<std::string>(*poll, "method", "POST", at);
        spec.url = read<std::string>(*poll, "url", "", at);
        check_template(spec.url, at + ".url");
        spec.body = read<json>(*poll, "body", json::object(), at);
        check_template(spec.body, at + ".body");
        spec.ok_when = read<json>(*poll, "ok_when", json::object(), at);
        spec.error_at = read<std::string>(*poll, "error_at", "", at);
        spec.results = read<std::string>(*poll, "results", "", at);
        spec.cursor = read<std::string>(*poll, "cursor", "", at);
        spec.wait_s = read<int>(*poll, "wait_s", 25, at);
        if (spec.url.empty() || spec.results.empty() || spec.cursor.empty())
            throw PresetError(at + ": url, results and cursor are needed");
        for (const std::string* pointer : {&spec.error_at, &spec.results, &spec.cursor})
            check_pointer(*pointer, at);
        receive.poll = std::move(spec);
    }
    if (const auto profile = document.find("profile"); profile != document.end()) {
        const std::string at = where + ".profile";
        ProfileSpec spec;
        spec.method = read<std::string>(*profile, "method", "GET", at);
        spec.url = read<std::string>(*profile, "url", "", at);
        check_template(spec.url, at + ".url");
        spec.headers = read<json>(*profile, "headers", json::object(), at);
        check_template(spec.headers, at + ".headers");
        spec.ok_when = read<json>(*profile, "ok_when", json::object(), at);
        spec.name = read<std::vector<std::string>>(*profile, "name", {}, at);
        if (spec.url.empty() || spec.name.empty())
            throw PresetError(at + ": url and name are needed");
        for (const std::string& pointer : spec.name)
            check_pointer(pointer, at + ".name");
        receive.profile = std::move(spec);
    }
    if (receive.text.empty() || receive.channel.empty())
        throw PresetError(where + ": text and channel pointers are needed");
    for (const std::string* pointer :
         {&receive.events, &receive.channel, &receive.sender, &receive.sender_name, &receive.text,
          &receive.entities, &receive.message_id, &receive.reply_to})
        check_pointer(*pointer, where);
    receive.edit = parse_change(document, "edit", receive, where);
    receive.retract = parse_change(document, "retract", receive, where);
    if (receive.edit && receive.edit->text.empty())
        throw PresetError(where + ".edit: text (the new text) is needed");
    if (receive.id != "path")
        check_pointer(receive.id, where + ".id");
    if (receive.format != "plain" && receive.format != "mrkdwn" && receive.format != "markdown")
        throw PresetError(where + ": format is plain, mrkdwn or markdown");
    return receive;
}

} // namespace

Preset Preset::parse(const json& document) {
    Preset preset;
    preset.kind = read<std::string>(document, "kind", "", "preset");
    const std::string where = "preset " + preset.kind;
    if (preset.kind.empty())
        throw PresetError("a preset needs a kind");
    preset.title = read<std::string>(document, "title", preset.kind, where);
    const json settings = read<json>(document, "settings", json::object(), where);
    for (const auto& [name, spec] : settings.items()) {
        SettingSpec setting;
        setting.name = name;
        const std::string at = where + ".settings." += name;
        setting.required = read<bool>(spec, "required", false, at);
        setting.secret = read<bool>(spec, "secret", false, at);
        setting.default_value = read<std::string>(spec, "default", "", at);
        setting.help = read<std::string>(spec, "help", "", at);
        preset.settings.push_back(std::move(setting));
    }
    if (const auto send = document.find("send"); send != document.end())
        preset.send = parse_send(*send, where + ".send");
    if (const auto edit = document.find("edit"); edit != document.end())
        preset.edit = parse_send(*edit, where + ".edit");
    if (const auto retract = document.find("retract"); retract != document.end())
        preset.retract = parse_send(*retract, where + ".retract");
    if (const auto receive = document.find("receive"); receive != document.end())
        preset.receive = parse_receive(*receive, where + ".receive");
    if (!preset.send && !preset.receive)
        throw PresetError(where + ": it neither sends nor receives");
    return preset;
}

const SettingSpec* Preset::setting(std::string_view name) const {
    const auto found = std::ranges::find_if(settings, [&](const SettingSpec& s) { return s.name == name; });
    if (found != settings.end())
        return &*found;
    const auto& common = common_settings();
    const auto shared = std::ranges::find_if(common, [&](const SettingSpec& s) { return s.name == name; });
    return shared == common.end() ? nullptr : &*shared;
}

json Preset::with_defaults(const json& given) const {
    json merged = json::object();
    for (const auto& spec : settings)
        if (!spec.default_value.empty())
            merged[spec.name] = spec.default_value;
    for (const auto& [name, value] : given.items())
        merged[name] = value;
    return merged;
}

const std::vector<SettingSpec>& common_settings() {
    static const std::vector<SettingSpec> settings = {
        {"allow_private", false, false, "no",
         "yes: may reach loopback and private addresses (SSRF guard off)"},
        {"pace_ms", false, false, "", "least milliseconds between two messages to one destination"},
        {"timeout_ms", false, false, "30000", "how long one request may take"},
    };
    return settings;
}

const std::vector<Preset>& builtin_presets() {
    static const std::vector<Preset> presets = [] {
        std::vector<Preset> parsed;
        for (const PresetSource& source : preset_sources()) {
            try {
                parsed.push_back(Preset::parse(json::parse(source.text)));
            } catch (const json::exception& e) {
                throw PresetError("presets/" + std::string(source.file) + ".json: " + e.what());
            }
        }
        return parsed;
    }();
    return presets;
}

const Preset* find_preset(std::string_view kind) {
    const auto& presets = builtin_presets();
    const auto found = std::ranges::find_if(presets, [&](const Preset& p) { return p.kind == kind; });
    return found == presets.end() ? nullptr : &*found;
}

} // namespace ferry::connectors::rest
