#include "connectors/alerts/alertmanager.hpp"

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <openssl/evp.h>
#include <stdexcept>

namespace ferry::connectors::alertmanager {

using json = nlohmann::json;

namespace {

std::string string_field(const json& object, std::string_view name, std::string_view where, bool required) {
    const auto found = object.find(name);
    if (found == object.end() || found->is_null()) {
        if (required)
            throw std::invalid_argument(std::string(where) + " has no \"" + std::string(name) + "\"");
        return {};
    }
    if (!found->is_string())
        throw std::invalid_argument(std::string(where) + "." + std::string(name) + " is not a string");
    return found->get<std::string>();
}

json string_map(const json& object, std::string_view name, std::string_view where) {
    const auto found = object.find(name);
    if (found == object.end() || found->is_null())
        return json::object();
    if (!found->is_object())
        throw std::invalid_argument(std::string(where) + "." + std::string(name) + " is not an object");
    for (const auto& [key, value] : found->items())
        if (!value.is_string())
            throw std::invalid_argument(std::string(where) + "." + std::string(name) + "." + key +
                                        " is not a string");
    return *found;
}

std::string label(const json& labels, const std::string& name) {
    const auto found = labels.find(name);
    return found == labels.end() ? std::string() : found->get<std::string>();
}

/// "2026-11-25T23:00:00.123Z" → "2026-11-25 23:00:00 UTC", "…T09:51:03.15+02:00" → "… 09:51:03 +02:00".
std::string readable_time(const std::string& rfc3339) {
    if (rfc3339.size() < 19 || rfc3339[10] != 'T')
        return rfc3339;
    if (rfc3339.ends_with('Z'))
        return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8) + " UTC";
    const auto offset = rfc3339.find_first_of("+-", 19);
    return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8) +
           (offset == std::string::npos ? std::string() : " " + rfc3339.substr(offset));
}

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL could not compute SHA-256");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::string silence_link(const Notification& n) {
    if (n.external_url.empty() || n.common_labels.empty())
        return {};
    std::string filter = "{";
    for (const auto& [name, value] : n.common_labels.items()) {
        std::string escaped;
        for (const char c : value.get<std::string>()) {
            if (c == '"' || c == '\\')
                escaped += '\\';
            escaped += c;
        }
        if (filter.size() > 1)
            filter += ',';
        filter.append(name).append("=\"").append(escaped).append("\"");
    }
    filter += "}";
    std::string base = n.external_url;
    while (base.ends_with('/'))
        base.pop_back();
    return base + "/#/silences/new?filter=" + boost::urls::encode(filter, boost::urls::unreserved_chars);
}

} // namespace

Notification parse(const json& body, Flavor flavor) {
    if (!body.is_object())
        throw std::invalid_argument("the body is not a JSON object");
    const std::string version = string_field(body, "version", "the payload", true);
    const bool grafana = flavor == Flavor::grafana;
    if (version != (grafana ? "1" : "4"))
        throw std::invalid_argument("payload version \"" + version + "\" is not supported (" +
                                    (grafana ? "Grafana sends 1" : "Alertmanager sends 4") + ")");
    Notification n;
    n.flavor = flavor;
    n.status = string_field(body, "status", "the payload", true);
    if (n.status != "firing" && n.status != "resolved")
        throw std::invalid_argument("status must be \"firing\" or \"resolved\"");
    n.receiver = string_field(body, "receiver", "the payload", false);
    n.group_key = string_field(body, "groupKey", "the payload", true);
    n.external_url = string_field(body, "externalURL", "the payload", false);
    if (const auto t = body.find("truncatedAlerts"); t != body.end() && t->is_number_integer())
        n.truncated_alerts = t->get<long>();
    n.group_labels = string_map(body, "groupLabels", "the payload");
    n.common_labels = string_map(body, "commonLabels", "the payload");
    const auto alerts = body.find("alerts");
    if (alerts == body.end() || !alerts->is_array() || alerts->empty())
        throw std::invalid_argument("the payload has no alerts");
    for (std::size_t i = 0; i < alerts->size(); ++i) {
        const json& a = (*alerts)[i];
        const std::string where = "alerts[" + std::to_string(i) + "]";
        if (!a.is_object())
            throw std::invalid_argument(where + " is not an object");
        Alert alert;
        alert.status = string_field(a, "status", where, true);
        if (alert.status != "firing" && alert.status != "resolved")
            throw std::invalid_argument(where + ".status must be \"firing\" or \"resolved\"");
        alert.labels = string_map(a, "labels", where);
        alert.annotations = string_map(a, "annotations", where);
        alert.starts_at = string_field(a, "startsAt", where, false);
        alert.ends_at = string_field(a, "endsAt", where, false);
        alert.generator_url = string_field(a, "generatorURL", where, false);
        alert.fingerprint = string_field(a, "fingerprint", where, false);
        if (grafana) {
            alert.silence_url = string_field(a, "silenceURL", where, false);
            alert.dashboard_url = string_field(a, "dashboardURL", where, false);
            alert.panel_url = string_field(a, "panelURL", where, false);
        }
        n.alerts.push_back(std::move(alert));
    }
    return n;
}

std::optional<Matcher> Matcher::parse(std::string_view text) {
    Matcher matcher;
    if (text == "*")
        return matcher;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string_view term = text.substr(start, comma - start);
        const std::size_t equals = term.find('=');
        if (equals == std::string_view::npos || equals == 0)
            return std::nullopt;
        const bool negated = term[equals - 1] == '!';
        Term t;
        t.name = std::string(term.substr(0, negated ? equals - 1 : equals));
        t.value = std::string(term.substr(equals + 1));
        t.equal = !negated;
        if (t.name.empty() || !std::ranges::all_of(t.name, [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
            }))
            return std::nullopt;
        matcher.terms_.push_back(std::move(t));
        start = comma + 1;
    }
    return matcher;
}

bool Matcher::matches(const json& labels) const {
    return std::ranges::all_of(terms_,
                               [&](const Term& t) { return (label(labels, t.name) == t.value) == t.equal; });
}

std::string format(const Notification& n, const std::vector<const Alert*>& alerts) {
    long firing = 0;
    for (const Alert* a : alerts)
        firing += a->status == "firing" ? 1 : 0;
    const bool any_firing = firing > 0;
    std::string title = any_firing ? "[FIRING:" + std::to_string(firing) + "]" : "[RESOLVED]";
    std::string group;
    for (const auto& [name, value] : n.group_labels.items())
        group += (group.empty() ? "" : " ") + value.get<std::string>();
    std::string extra;
    for (const auto& [name, value] : n.common_labels.items())
        if (!n.group_labels.contains(name))
            extra += (extra.empty() ? "" : " ") + value.get<std::string>();
    if (!group.empty())
        title += " " + group;
    if (!extra.empty())
        title += " (" + extra + ")";
    std::string text = title;
    for (const Alert* a : alerts) {
        std::string what = label(a->annotations, "summary");
        if (what.empty())
            what = label(a->annotations, "description");
        if (what.empty())
            what = label(a->labels, "alertname");
        const std::string instance = label(a->labels, "instance");
        const std::string severity = label(a->labels, "severity");
        text += "\n" + std::string(a->status == "firing" ? "● " : "✓ ");
        if (!severity.empty())
            text += severity + ": ";
        text += what;
        if (!instance.empty())
            text += " on " + instance;
        if (a->status == "firing" && !a->starts_at.empty())
            text += "\n  since " + readable_time(a->starts_at);
        else if (a->status == "resolved" && !a->ends_at.empty())
            text += "\n  resolved " + readable_time(a->ends_at);
        const std::string runbook = label(a->annotations, "runbook_url");
        if (!runbook.empty())
            text += "\n  runbook: " + runbook;
        if (!a->generator_url.empty())
            text += "\n  source: " + a->generator_url;
        if (!a->dashboard_url.empty())
            text += "\n  dashboard: " + (a->panel_url.empty() ? a->dashboard_url : a->panel_url);
        if (a->status == "firing" && !a->silence_url.empty())
            text += "\n  silence: " + a->silence_url;
    }
    if (n.truncated_alerts > 0)
        text +=
            "\n+" + std::to_string(n.truncated_alerts) + " more alerts not sent by Alertmanager (max_alerts)";
    if (any_firing && n.flavor == Flavor::alertmanager) {
        const std::string silence = silence_link(n);
        if (!silence.empty())
            text += "\nSilence: " + silence;
    }
    return text;
}

std::string resolution_line(const Notification& n, const std::vector<const Alert*>& alerts) {
    std::vector<const Alert*> resolved;
    for (const Alert* a : alerts)
        if (a->status == "resolved")
            resolved.push_back(a);
    if (resolved.empty())
        return {};
    Notification without_truncation = n;
    without_truncation.truncated_alerts = 0;
    const std::string full = format(without_truncation, resolved);
    std::string line = full.substr(0, full.find('\n'));
    if (resolved.size() == alerts.size())
        return line;
    // Only some resolved: name them, one line each (their details stay in the corrected message).
    std::size_t at = full.find('\n');
    while (at != std::string::npos) {
        const std::size_t end = full.find('\n', at + 1);
        const std::string next = full.substr(at + 1, end == std::string::npos ? end : end - at - 1);
        if (next.starts_with("✓ "))
            line += "\n" + next;
        at = end;
    }
    return line;
}

std::string group_id(const Notification& n) {
    return "am-group:" + sha256_hex(n.receiver + "\n" + n.group_key).substr(0, 32);
}

std::string dedup_id(const Notification& n) {
    std::vector<std::string> alerts;
    alerts.reserve(n.alerts.size());
    for (const Alert& a : n.alerts)
        alerts.push_back(a.fingerprint + "|" + a.status + "|" + a.starts_at + "|" + a.ends_at + "|" +
                         a.labels.dump());
    std::ranges::sort(alerts);
    std::string all = n.group_key + "\n" + n.status + "\n" + n.receiver;
    for (const std::string& a : alerts)
        all += "\n" + a;
    return "am:" + sha256_hex(all);
}

} // namespace ferry::connectors::alertmanager
