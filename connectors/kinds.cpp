#include "connectors/kinds.hpp"

#include "connectors/rest/preset.hpp"
#include "mappings/mapping.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ferry::connectors {

namespace {

SettingSpec auth_setting() {
    return {"auth", false, false, "",
            "none: take requests without authentication (shown in every listing, warned about at start)"};
}

SettingSpec token_setting() {
    return {"token", false, true, "",
            "the token senders present: Authorization: Bearer, basic-auth password, X-Ferry-Token or "
            "/hooks/NAME/TOKEN"};
}

SettingSpec dedup_setting() {
    return {"dedup_window", false, false, "300", "seconds in which a resent notification is a duplicate"};
}

std::vector<KindSpec> built_in_kinds() {
    std::vector<KindSpec> kinds;
    kinds.push_back({"log",
                     "writes each message as one JSON line to a file",
                     {{"path", true, false, "", "absolute file name"}},
                     false,
                     true,
                     {}});
    for (const char* alerts : {"alertmanager", "grafana"})
        kinds.push_back({alerts,
                         std::string(alerts) == "grafana"
                             ? "Grafana alerting notifications at POST /hooks/NAME, routed by label"
                             : "Prometheus Alertmanager notifications at POST /hooks/NAME, routed by label",
                         {token_setting(), dedup_setting(), auth_setting()},
                         true,
                         false,
                         {"token"}});
    kinds.push_back(
        {"webhook",
         "any JSON POSTed to /hooks/NAME, its text picked by JSON Pointer or written by a template",
         {token_setting(),
          {"secret", false, true, "", "GitHub-style X-Hub-Signature-256 (HMAC-SHA256 of the body)"},
          {"text", false, false, "/text", "JSON Pointer to the text"},
          {"template", false, false, "", "the text written from the body's fields (instead of text)"},
          {"sender", false, false, "", "JSON Pointer to the sender's name"},
          {"target", false, false, "", "JSON Pointer to the value mappings' remote address match"},
          {"id_header", false, false, "", "header holding a delivery id (a resend is a duplicate)"},
          auth_setting()},
         true,
         false,
         {"token", "secret"}});
    for (const rest::Preset& preset : rest::builtin_presets()) {
        KindSpec kind{
            preset.kind, preset.title, preset.settings, preset.receive.has_value(), preset.send.has_value(),
            {}};
        const auto& common = rest::common_settings();
        kind.settings.insert(kind.settings.end(), common.begin(), common.end());
        kinds.push_back(std::move(kind));
    }
    return kinds;
}

} // namespace

const SettingSpec* KindSpec::setting(std::string_view name) const {
    const auto found = std::ranges::find_if(settings, [&](const SettingSpec& s) { return s.name == name; });
    return found == settings.end() ? nullptr : &*found;
}

const std::vector<KindSpec>& all_kinds() {
    static const std::vector<KindSpec> kinds = built_in_kinds();
    return kinds;
}

const KindSpec* find_kind(std::string_view name) {
    const auto& kinds = all_kinds();
    const auto found = std::ranges::find_if(kinds, [&](const KindSpec& k) { return k.name == name; });
    return found == kinds.end() ? nullptr : &*found;
}

std::string kinds_help() {
    std::string out = "Connector kinds (ferry connector add NAME --kind KIND --setting KEY=VALUE ...):\n";
    for (const KindSpec& kind : all_kinds()) {
        out += "\n  " + kind.name + " - " + kind.summary;
        out += kind.receives && kind.sends ? " (both ways)" : kind.receives ? " (receives)" : " (sends)";
        out += "\n";
        for (const SettingSpec& setting : kind.settings) {
            std::string marks;
            if (setting.required)
                marks += "required";
            if (setting.secret)
                marks += std::string(marks.empty() ? "" : ", ") + "secret";
            if (!setting.default_value.empty())
                marks += std::string(marks.empty() ? "" : ", ") + "default " + setting.default_value;
            out += "      " + setting.name + (marks.empty() ? "" : " (" + marks + ")") + ": " + setting.help +
                   "\n";
        }
        if (!kind.authenticated_by.empty()) {
            std::string by;
            for (const std::string& name : kind.authenticated_by)
                by += (by.empty() ? "" : " or ") + name;
            const char* lead = kind.authenticated_by.size() == 1 ? "      " : "      one of ";
            out += lead + by + " must be set, or auth=none\n";
        }
    }
    return out;
}

bool open_by_choice(const nlohmann::json& settings) {
    return mappings::text_setting(settings, "auth") == no_authentication;
}

bool authenticated(const KindSpec& kind, const nlohmann::json& settings) {
    return std::ranges::any_of(kind.authenticated_by, [&](const std::string& name) {
        return !mappings::text_setting(settings, name).empty();
    });
}

} // namespace ferry::connectors
