#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors {

/// One setting a connector kind takes (`ferry connector add|set NAME --setting name=value`).
struct SettingSpec {
    std::string name;
    bool required = false;
    bool secret = false;       ///< shown as <redacted> unless asked for by name (`connector show --reveal`)
    std::string default_value; ///< used when the connector does not set it
    std::string help;
};

/// A kind of connector: what it does and every setting it takes. The one list the command line checks
/// settings against, redacts by and describes in `ferry help`.
struct KindSpec {
    std::string name;
    std::string summary; ///< one line, for `ferry help` and errors
    std::vector<SettingSpec> settings;
    bool receives = false; ///< serves POST /hooks/<connector name>
    bool sends = false;    ///< delivers messages from XMPP
    /// For a kind that only receives: the settings that authenticate its requests. One must be set, or
    /// `auth=none` given, so that no hook is open by accident.
    std::vector<std::string> authenticated_by;

    /// The setting named `name`, or null.
    const SettingSpec* setting(std::string_view name) const;
};

/// Every kind this binary runs: log, alertmanager, grafana, webhook, then the service presets.
const std::vector<KindSpec>& all_kinds();
/// The kind named `name`, or null.
const KindSpec* find_kind(std::string_view name);

/// `ferry help kinds`: every kind, what it does and its settings (required and secret ones marked).
std::string kinds_help();

/// The value of the setting `auth` by which an operator says a hook takes requests without authentication.
inline constexpr std::string_view no_authentication = "none";
/// True when a connector with these settings was told to take requests without authentication (auth=none).
bool open_by_choice(const nlohmann::json& settings);
/// True when one of the kind's authenticating settings is set to a non-empty value.
bool authenticated(const KindSpec& kind, const nlohmann::json& settings);

} // namespace ferry::connectors
