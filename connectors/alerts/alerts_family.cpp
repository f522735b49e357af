#include "connectors/alerts/alerts_family.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/token_hooks.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/text/log_text.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/alerts/alertmanager.hpp"

#include <algorithm>

namespace ferry::connectors::alerts {

namespace am = connectors::alertmanager;
using core::HookReading;

namespace {

/// The hook's settings: those of every hook Ferry authenticates by token.
std::vector<core::SettingSpec> hook_settings() {
    return {core::token_setting(),
            {"dedup_window", false, false, "300", "seconds in which a resent notification is a duplicate"},
            core::auth_setting()};
}

core::Message alert_message(const am::Notification& notification, const std::vector<const am::Alert*>& taken,
                            const store::Connector& connector, const store::Mapping& mapping) {
    core::Message message;
    const bool all_resolved =
        std::ranges::all_of(taken, [](const am::Alert* a) { return a->status == "resolved"; });
    message.kind = all_resolved ? "alert-resolved" : "alert";
    message.thread = am::group_id(notification);
    message.source = connector.name;
    message.source_id = notification.group_key;
    message.to = mapping.xmpp_address;
    message.text = am::format(notification, taken);
    message.timestamp = core::utc_timestamp();
    for (const am::Alert* alert : taken) {
        // One episode of an alert: the fingerprint stays when it fires again later, startsAt does not.
        const std::string episode = alert->fingerprint + "@" + alert->starts_at;
        if (alert->fingerprint.empty() || episode.find(' ') != std::string::npos)
            continue;
        std::string& list = alert->status == "resolved" ? message.resolved : message.firing;
        list += (list.empty() ? "" : " ") + episode;
    }
    message.resolution = am::resolution_line(notification, taken);
    return message;
}

/// Alerts routed by label, one message per mapping that takes some.
HookReading read_alerts(const core::HookCall& call, const nlohmann::json& body, core::Logger& logger) {
    const store::Connector& connector = call.connector;
    const bool grafana = connector.kind == "grafana";
    am::Notification notification;
    try {
        notification = am::parse(body, grafana ? am::Flavor::grafana : am::Flavor::alertmanager);
    } catch (const std::invalid_argument& e) {
        return core::refused_reading(400, std::string("not ") +
                                              (grafana ? "a Grafana alerting" : "an Alertmanager") +
                                              " notification: " + e.what());
    }
    core::Arrival arrival;
    for (const store::Mapping* mapping : call.snapshot.inbound_of(connector.name)) {
        const auto matcher = am::Matcher::parse(mapping->remote_address);
        if (!matcher) {
            logger.warning("mapping " + std::to_string(mapping->id) + ": \"" + mapping->remote_address +
                           "\" is not a label matcher (`*` or name=value,name!=value); it takes no alerts");
            continue;
        }
        std::vector<const am::Alert*> taken;
        for (const auto& alert : notification.alerts)
            if (matcher->matches(alert.labels))
                taken.push_back(&alert);
        if (taken.empty())
            continue;
        arrival.entries.push_back({connector.id, store::inbound_conversation(mapping->id),
                                   mapping->xmpp_address,
                                   to_json(alert_message(notification, taken, connector, *mapping))});
    }
    if (arrival.entries.empty()) {
        logger.warning("webhook " + connector.name + ": no mapping takes the alerts of group " +
                       text::quoted(notification.group_key));
        return core::refused_reading(
            422, "no mapping of \"" + connector.name +
                     "\" takes these alerts; add one with: ferry mapping add --xmpp JID --connector " +
                     connector.name + " --remote '*' --direction in");
    }
    arrival.source = core::SourceKey{connector.id, am::dedup_id(notification), core::dedup_window(connector)};
    arrival.summary = text::shortened(notification.status, 16) + " " + text::quoted(notification.group_key);
    return core::accepted_reading(std::move(arrival));
}

class RunningAlerts final : public core::RunningFamily {
public:
    explicit RunningAlerts(core::Logger& logger) : logger_(logger) {}

    HookReading read_hook(const core::HookCall& call) override {
        return core::read_token_hook(
            call, logger_, [&](const nlohmann::json& body) { return read_alerts(call, body, logger_); });
    }

private:
    core::Logger& logger_;
};

void check_settings(const nlohmann::json& settings) {
    if (!settings.contains("dedup_window"))
        return;
    const std::string window = store::text_setting(settings, "dedup_window");
    const bool digits = !window.empty() && window.size() <= 7 &&
                        std::ranges::all_of(window, [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
        throw std::invalid_argument("dedup_window is a number of seconds (0-9999999), not \"" +
                                    text::printable(window) + "\"");
}

core::KindSpec alert_kind(const std::string& name, std::string summary) {
    core::KindSpec kind{name, std::move(summary), hook_settings(), true, false, {"token"}, {}, {}};
    kind.check_settings = check_settings;
    kind.check_mapping = [name](std::string_view /*xmpp*/, std::string_view direction,
                                std::string_view remote) {
        if (!am::Matcher::parse(std::string(remote)))
            throw std::invalid_argument(
                "--remote \"" + text::printable(remote) +
                "\" is not a label matcher for an alert connector: use '*' for every alert, "
                "or name=value / name!=value pairs separated by commas, e.g. severity=critical,team=ops");
        if (direction != "in")
            throw std::invalid_argument("an " + name + " connector only receives alerts: use --direction in");
    };
    return kind;
}

} // namespace

const std::vector<core::KindSpec>& AlertsFamily::kinds() const {
    static const std::vector<core::KindSpec> kinds = {
        alert_kind("alertmanager",
                   "Prometheus Alertmanager notifications at POST /hooks/NAME, routed by label"),
        alert_kind("grafana", "Grafana alerting notifications at POST /hooks/NAME, routed by label"),
    };
    return kinds;
}

std::unique_ptr<core::RunningFamily> AlertsFamily::start(const core::FamilyContext& context) const {
    return std::make_unique<RunningAlerts>(context.logger);
}

} // namespace ferry::connectors::alerts
