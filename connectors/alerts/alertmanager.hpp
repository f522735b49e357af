#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Prometheus Alertmanager's webhook (payload version 4), and Grafana alerting's webhook (version 1, the same
// shape with links per alert): reading a notification, choosing which mappings its alerts go to, and
// writing it as one readable message.
namespace ferry::connectors::alertmanager {

struct Alert {
    std::string status; ///< "firing" or "resolved"
    nlohmann::json labels = nlohmann::json::object();
    nlohmann::json annotations = nlohmann::json::object();
    std::string starts_at;
    std::string ends_at;
    std::string generator_url;
    std::string fingerprint;
    std::string silence_url;   ///< Grafana only
    std::string dashboard_url; ///< Grafana only
    std::string panel_url;     ///< Grafana only
};

enum class Flavor { alertmanager, grafana };

struct Notification {
    Flavor flavor = Flavor::alertmanager;
    std::string status; ///< of the group: "firing" while any alert fires
    std::string receiver;
    std::string group_key;
    std::string external_url;
    long truncated_alerts = 0;
    nlohmann::json group_labels = nlohmann::json::object();
    nlohmann::json common_labels = nlohmann::json::object();
    std::vector<Alert> alerts;
};

/// Reads a webhook body. std::invalid_argument naming the first thing wrong (not version 4, or 1 for Grafana,
/// a missing field, a label that is not a string, …).
Notification parse(const nlohmann::json& body, Flavor flavor = Flavor::alertmanager);

/// Which alerts a mapping takes, from its remote address: `*` for all, or label matchers separated by
/// commas, each `name=value` or `name!=value` (all must hold), e.g. `severity=critical,team=ops`.
class Matcher {
public:
    /// nullopt when `text` is not a matcher.
    static std::optional<Matcher> parse(std::string_view text);
    bool matches(const nlohmann::json& labels) const;

private:
    struct Term {
        std::string name;
        std::string value;
        bool equal = true;
    };
    std::vector<Term> terms_;
};

/// The message for the `alerts` of `n` that one mapping takes (a subset of n.alerts, in order): a title
/// like Alertmanager's default one ("[FIRING:2] HighLatency (api critical)"), one line per alert with its
/// summary and since when, its source link, and a link that silences the group.
std::string format(const Notification& n, const std::vector<const Alert*>& alerts);

/// The short line that tells which of `alerts` resolved: the title of those resolved, followed by one line
/// each when only some of `alerts` did. Empty when none did.
std::string resolution_line(const Notification& n, const std::vector<const Alert*>& alerts);

/// Names the alert group across its notifications (receiver + groupKey), so that a later notification can
/// correct the message of an earlier one (XEP-0308).
std::string group_id(const Notification& n);

/// Identifies a notification for inbound dedup: the group, its status and every alert's fingerprint,
/// status and times. Alertmanager sends the same again when a POST timed out; a reminder after
/// repeat_interval is also the same, which is why the dedup has a time window.
std::string dedup_id(const Notification& n);

} // namespace ferry::connectors::alertmanager
