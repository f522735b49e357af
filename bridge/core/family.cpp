#include "bridge/core/family.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/store/mapping.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ferry::core {

const SettingSpec* KindSpec::setting(std::string_view name) const {
    const auto found = std::ranges::find_if(settings, [&](const SettingSpec& s) { return s.name == name; });
    return found == settings.end() ? nullptr : &*found;
}

bool open_by_choice(const nlohmann::json& settings) {
    return store::text_setting(settings, "auth") == no_authentication;
}

bool authenticated(const KindSpec& kind, const nlohmann::json& settings) {
    return std::ranges::any_of(kind.authenticated_by, [&](const std::string& name) {
        return !store::text_setting(settings, name).empty();
    });
}

std::unique_ptr<Connector> RunningFamily::make_connector(const store::Connector& /*row*/) {
    return nullptr;
}

HookReading RunningFamily::read_hook(const HookCall& /*call*/) {
    HookReading reading;
    reading.answer_now = http::json_error(404, "this connector takes no requests");
    return reading;
}

boost::asio::awaitable<void> RunningFamily::run_sources() {
    co_return;
}

std::optional<OutboundRoute> RunningFamily::route_outbound(const store::MappingSnapshot& /*snapshot*/,
                                                           const store::Connector& /*connector*/,
                                                           std::string_view /*from*/,
                                                           std::string_view /*remote*/) {
    return std::nullopt;
}

bool RunningFamily::handle_stanza(const xmpp::InboundStanza& /*stanza*/) {
    return false;
}

FamilyList::FamilyList(std::vector<const Family*> families) : families_(std::move(families)) {}

std::vector<const KindSpec*> FamilyList::kinds() const {
    std::vector<const KindSpec*> all;
    for (const Family* family : families_)
        for (const KindSpec& kind : family->kinds())
            all.push_back(&kind);
    return all;
}

const KindSpec* FamilyList::find_kind(std::string_view name) const {
    for (const Family* family : families_)
        for (const KindSpec& kind : family->kinds())
            if (kind.name == name)
                return &kind;
    return nullptr;
}

const Family* FamilyList::family_of(std::string_view kind) const {
    for (const Family* family : families_)
        for (const KindSpec& offered : family->kinds())
            if (offered.name == kind)
                return family;
    return nullptr;
}

namespace {

/// `required, secret, default 300`: what to know of a setting besides its name (its default when asked).
std::string setting_marks(const SettingSpec& setting, bool with_default) {
    std::string marks;
    const auto mark = [&marks](const std::string& text) { marks += (marks.empty() ? "" : ", ") + text; };
    if (setting.required)
        mark("required");
    if (setting.secret)
        mark("secret");
    if (with_default && !setting.default_value.empty())
        mark("default " + setting.default_value);
    return marks;
}

} // namespace

std::string FamilyList::kinds_help() const {
    std::string out = "Connector kinds (ferry connector add NAME --kind KIND --setting KEY=VALUE ...):\n";
    for (const KindSpec* kind : kinds()) {
        out += "\n  " + kind->name + " - " + kind->summary;
        out += kind->receives && kind->sends ? " (both ways)" : kind->receives ? " (receives)" : " (sends)";
        out += "\n";
        for (const SettingSpec& setting : kind->settings) {
            const std::string marks = setting_marks(setting, true);
            out += "      " + setting.name + (marks.empty() ? "" : " (" + marks + ")") + ": " + setting.help +
                   "\n";
        }
        if (!kind->authenticated_by.empty()) {
            std::string by;
            for (const std::string& name : kind->authenticated_by)
                by += (by.empty() ? "" : " or ") + name;
            const char* lead = kind->authenticated_by.size() == 1 ? "      " : "      one of ";
            out += lead + by + " must be set, or auth=none\n";
        }
    }
    return out;
}

std::string FamilyList::kinds_table() const {
    std::string out = "| kind | direction | settings | what it does |\n|---|---|---|---|\n";
    for (const KindSpec* kind : kinds()) {
        std::string settings;
        for (const SettingSpec& setting : kind->settings) {
            const std::string marks = setting_marks(setting, false);
            settings += (settings.empty() ? "`" : ", `") + setting.name + "`" +
                        (marks.empty() ? "" : " (" + marks + ")");
        }
        if (!kind->authenticated_by.empty()) {
            std::string by;
            for (const std::string& name : kind->authenticated_by)
                by += (by.empty() ? "`" : " or `") + name + "`";
            settings += "; " + by + " or `auth=none` must be set";
        }
        const char* direction = kind->receives && kind->sends ? "both" : kind->receives ? "in" : "out";
        out += "| `" + kind->name + "` | " + direction + " | " + settings + " | " + kind->summary + " |\n";
    }
    return out;
}

} // namespace ferry::core
