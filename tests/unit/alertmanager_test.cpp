// Alertmanager's webhook payload (version 4) read, matched against mappings and written as one message.
#include "connectors/alerts/alertmanager.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::alertmanager {
namespace {

using json = nlohmann::json;

// The shape of Alertmanager's documentation example (prometheus.io, "webhook_config"), two alerts.
json example(std::string status = "firing") {
    return json::parse(
        R"({
      "version": "4",
      "groupKey": "{}/{team=\"db\"}:{alertname=\"DiskFull\"}",
      "truncatedAlerts": 0,
      "status": ")" +
        status + R"(",
      "receiver": "ferry",
      "groupLabels": {"alertname": "DiskFull"},
      "commonLabels": {"alertname": "DiskFull", "team": "db"},
      "commonAnnotations": {},
      "externalURL": "http://alertmanager.example.org:9093/",
      "alerts": [
        {"status": "firing", "labels": {"alertname": "DiskFull", "team": "db", "severity": "critical", "instance": "db-1"},
         "annotations": {"summary": "Disk 97% full", "runbook_url": "https://wiki/disk"},
         "startsAt": "2026-11-25T10:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph?g0.expr=disk", "fingerprint": "a1"},
        {"status": ")" +
        status +
        R"(", "labels": {"alertname": "DiskFull", "team": "db", "severity": "warning", "instance": "db-2"},
         "annotations": {"description": "Disk 85% full"},
         "startsAt": "2026-11-25T10:01:00Z", "endsAt": "2026-11-25T11:00:00Z",
         "generatorURL": "", "fingerprint": "b2"}
      ]})");
}

std::vector<const Alert*> all(const Notification& n) {
    std::vector<const Alert*> alerts;
    for (const Alert& a : n.alerts)
        alerts.push_back(&a);
    return alerts;
}

TEST(Alertmanager, ParsesTheDocumentedPayload) {
    const Notification n = parse(example());
    EXPECT_EQ(n.status, "firing");
    EXPECT_EQ(n.receiver, "ferry");
    ASSERT_EQ(n.alerts.size(), 2u);
    EXPECT_EQ(n.alerts[0].labels["instance"], "db-1");
    EXPECT_EQ(n.alerts[1].annotations["description"], "Disk 85% full");
    EXPECT_EQ(n.alerts[0].fingerprint, "a1");
}

TEST(Alertmanager, FormatsLikeItsDefaultTitleWithOneLinePerAlert) {
    const Notification n = parse(example());
    const std::string text = format(n, all(n));
    EXPECT_EQ(text.substr(0, text.find('\n')), "[FIRING:2] DiskFull (db)");
    EXPECT_NE(text.find("\n● critical: Disk 97% full on db-1\n  since 2026-11-25 10:00:00 UTC\n"
                        "  runbook: https://wiki/disk\n  source: http://prometheus:9090/graph?g0.expr=disk"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\n● warning: Disk 85% full on db-2"), std::string::npos) << text;
    EXPECT_NE(text.find("\nSilence: http://alertmanager.example.org:9093/#/silences/new?filter="
                        "%7Balertname%3D%22DiskFull%22%2Cteam%3D%22db%22%7D"),
              std::string::npos)
        << text;

    const Notification resolved = parse(example("resolved"));
    std::vector<const Alert*> second{&resolved.alerts[1]};
    const std::string done = format(resolved, second);
    EXPECT_EQ(
        done,
        "[RESOLVED] DiskFull (db)\n✓ warning: Disk 85% full on db-2\n  resolved 2026-11-25 11:00:00 UTC")
        << "a resolution has no silence link";
}

TEST(Alertmanager, ResolutionLineNamesWhatResolved) {
    const Notification firing = parse(example());
    EXPECT_EQ(resolution_line(firing, all(firing)), "") << "nothing resolved";
    // Alert b2 resolved while a1 still fires: the title of what resolved, and which.
    const Notification partly = parse(example("resolved"));
    EXPECT_EQ(resolution_line(partly, all(partly)),
              "[RESOLVED] DiskFull (db)\n✓ warning: Disk 85% full on db-2");
    std::vector<const Alert*> second{&partly.alerts[1]};
    EXPECT_EQ(resolution_line(partly, second), "[RESOLVED] DiskFull (db)")
        << "all of them: the title says it";
}

TEST(Alertmanager, TruncatedAlertsAreCounted) {
    json body = example();
    body["truncatedAlerts"] = 5;
    const Notification n = parse(body);
    EXPECT_NE(format(n, all(n)).find("+5 more alerts not sent by Alertmanager"), std::string::npos);
}

TEST(Alertmanager, MatchersSelectByLabel) {
    const Notification n = parse(example());
    const auto critical = Matcher::parse("severity=critical");
    const auto not_critical = Matcher::parse("severity!=critical,team=db");
    const auto everything = Matcher::parse("*");
    ASSERT_TRUE(critical && not_critical && everything);
    EXPECT_TRUE(critical->matches(n.alerts[0].labels));
    EXPECT_FALSE(critical->matches(n.alerts[1].labels));
    EXPECT_FALSE(not_critical->matches(n.alerts[0].labels));
    EXPECT_TRUE(not_critical->matches(n.alerts[1].labels));
    EXPECT_TRUE(everything->matches(n.alerts[1].labels));
    EXPECT_TRUE(Matcher::parse("missing=")->matches(n.alerts[0].labels)) << "an absent label is empty";
    for (const char* bad : {"", "severity", "=x", "a=b,", "sev-erity=x", "a=b,,c=d"})
        EXPECT_FALSE(Matcher::parse(bad)) << bad;
}

TEST(Alertmanager, DedupIdIsStableAndChangesWithTheContent) {
    const std::string id = dedup_id(parse(example()));
    EXPECT_EQ(id, dedup_id(parse(example())));
    json reordered = example();
    std::swap(reordered["alerts"][0], reordered["alerts"][1]);
    EXPECT_EQ(id, dedup_id(parse(reordered))) << "alert order does not make a new notification";
    EXPECT_NE(id, dedup_id(parse(example("resolved"))));
    json moved = example();
    moved["alerts"][0]["startsAt"] = "2026-11-25T12:00:00Z";
    EXPECT_NE(id, dedup_id(parse(moved)));
}

TEST(Alertmanager, RefusesWhatIsNotAVersion4Notification) {
    const auto reason = [](json body) {
        try {
            parse(body);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(reason(json::array()), "the body is not a JSON object");
    json v3 = example();
    v3["version"] = "3";
    EXPECT_EQ(reason(v3), "payload version \"3\" is not supported (Alertmanager sends 4)");
    json no_key = example();
    no_key.erase("groupKey");
    EXPECT_EQ(reason(no_key), "the payload has no \"groupKey\"");
    json odd_status = example();
    odd_status["alerts"][1]["status"] = "pending";
    EXPECT_EQ(reason(odd_status), "alerts[1].status must be \"firing\" or \"resolved\"");
    json number = example();
    number["alerts"][0]["annotations"]["summary"] = 5;
    EXPECT_EQ(reason(number), "alerts[0].annotations.summary is not a string");
}

} // namespace
} // namespace ferry::connectors::alertmanager

namespace ferry::connectors::alertmanager {
namespace {

// Grafana's documented webhook example (grafana.com, "Configure the webhook notifier"), one alert.
const char* grafana_example = R"json({
  "receiver": "My Super Webhook", "status": "firing", "orgId": 1,
  "alerts": [{
    "status": "firing",
    "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
    "annotations": {"description": "The system has high memory usage",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "summary": "This alert was triggered for zone us-1"},
    "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
    "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2",
    "dashboardURL": "https://play.grafana.org/d/abc", "panelURL": "https://play.grafana.org/d/abc?viewPanel=2",
    "values": {"B": 44.23943737541908, "C": 1}
  }],
  "groupLabels": {}, "commonLabels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
  "commonAnnotations": {}, "externalURL": "https://play.grafana.org/", "version": "1",
  "groupKey": "{}:{alertname=\"High memory usage\"}", "truncatedAlerts": 0,
  "title": "[FIRING:1]  (High memory usage blue us-1)", "state": "alerting",
  "message": "**Firing**\n\nLabels:\n - alertname = High memory usage\n"
})json";

TEST(GrafanaAlerting, DocumentedPayloadBecomesAMessageWithItsLinksPerAlert) {
    const Notification n = parse(nlohmann::json::parse(grafana_example), Flavor::grafana);
    std::vector<const Alert*> alerts{&n.alerts[0]};
    const std::string text = format(n, alerts);
    EXPECT_EQ(text,
              "[FIRING:1] (High memory usage blue us-1)\n"
              "● This alert was triggered for zone us-1\n"
              "  since 2021-10-12 09:51:03 +02:00\n"
              "  runbook: https://myrunbook.com/runbook/1234\n"
              "  source: https://play.grafana.org/alerting/1afz29v7z/edit\n"
              "  dashboard: https://play.grafana.org/d/abc?viewPanel=2\n"
              "  silence: "
              "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2");
    EXPECT_THROW(parse(nlohmann::json::parse(grafana_example)), std::invalid_argument)
        << "version 1 is Grafana's, not Alertmanager's";
}

} // namespace
} // namespace ferry::connectors::alertmanager
