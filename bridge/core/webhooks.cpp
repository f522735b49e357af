#include "bridge/core/webhooks.hpp"

#include "bridge/core/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/core/outbox.hpp"
#include "connectors/rest/alertmanager.hpp"
#include "mappings/mapping_store.hpp"
#include "mappings/pg/within.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace ferry::core {

namespace asio = boost::asio;
using http::json_error;
using http::Response;

namespace {

constexpr std::chrono::seconds default_dedup_window{300};

std::string setting(const mappings::Connector& connector, const char* name) {
    const auto found = connector.settings.find(name);
    return found != connector.settings.end() && found->is_string() ? found->get<std::string>()
                                                                   : std::string();
}

/// Compares secrets in constant time (over their SHA-256, so lengths do not show either).
bool same_secret(std::string_view given, std::string_view expected) {
    unsigned char a[EVP_MAX_MD_SIZE];
    unsigned char b[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(given.data(), given.size(), a, &size, EVP_sha256(), nullptr) != 1 ||
        EVP_Digest(expected.data(), expected.size(), b, &size, EVP_sha256(), nullptr) != 1)
        return false;
    return CRYPTO_memcmp(a, b, size) == 0;
}

/// The token a request carries: `Authorization: Bearer T` (what Alertmanager's http_config sends) or
/// `X-Ferry-Token: T`.
std::string_view presented_token(const http::Request& request) {
    const std::string_view authorization = request.header("authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() > bearer.size() &&
        std::equal(bearer.begin(), bearer.end(), authorization.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
        return authorization.substr(bearer.size());
    return request.header("x-ferry-token");
}

std::chrono::seconds dedup_window(const mappings::Connector& connector) {
    const std::string text = setting(connector, "dedup_window");
    if (text.empty())
        return default_dedup_window;
    try {
        const long seconds = std::stol(text);
        if (seconds >= 0)
            return std::chrono::seconds(seconds);
    } catch (const std::exception&) {
    }
    return default_dedup_window;
}

Response accepted(std::size_t messages, bool duplicate) {
    Response response;
    response.body = nlohmann::json{{"status", duplicate ? "duplicate" : "accepted"},
                                   {"messages", duplicate ? 0 : messages}}
                        .dump() +
                    "\n";
    return response;
}

} // namespace

Webhooks::Webhooks(const mappings::MappingStore& store, Outbox& outbox, Metrics& metrics, Logger& logger,
                   std::chrono::milliseconds commit_timeout)
    : store_(store), outbox_(outbox), metrics_(metrics), logger_(logger), commit_timeout_(commit_timeout) {}

bool Webhooks::serves_kind(std::string_view kind) {
    return kind == "alertmanager" || kind == "grafana";
}

asio::awaitable<Response> Webhooks::handle(const http::Request& request, std::string_view hook) {
    const auto snapshot = store_.snapshot();
    const mappings::Connector* connector = snapshot->connector(hook);
    if (connector == nullptr || !serves_kind(connector->kind))
        co_return json_error(404, "no webhook named \"" + std::string(hook) + "\"");
    if (request.method != "POST") {
        Response refused = json_error(405, "webhooks take POST");
        refused.headers.emplace_back("Allow", "POST");
        co_return refused;
    }
    if (!connector->enabled)
        co_return json_error(404, "webhook \"" + connector->name + "\" is disabled");
    const std::string token = setting(*connector, "token");
    if (!token.empty()) {
        const std::string_view given = presented_token(request);
        if (given.empty() || !same_secret(given, token)) {
            logger_.warning("webhook " + connector->name + ": refused a request from " + request.remote +
                            (given.empty() ? " without a token" : " with a wrong token"));
            Response refused = json_error(
                401, given.empty() ? "this webhook needs a token (Authorization: Bearer …)" : "wrong token");
            refused.headers.emplace_back("WWW-Authenticate", "Bearer");
            co_return refused;
        }
    }
    nlohmann::json body;
    try {
        body = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
        co_return json_error(400, std::string("the body is not JSON: ") + e.what());
    }
    connectors::alertmanager::Notification notification;
    try {
        notification = connectors::alertmanager::parse(
            body, connector->kind == "grafana" ? connectors::alertmanager::Flavor::grafana
                                               : connectors::alertmanager::Flavor::alertmanager);
    } catch (const std::invalid_argument& e) {
        co_return json_error(400,
                             std::string("not ") +
                                 (connector->kind == "grafana" ? "a Grafana alerting" : "an Alertmanager") +
                                 " notification: " + e.what());
    }

    std::vector<OutboxEntry> entries;
    for (const mappings::Mapping* mapping : snapshot->inbound_of(connector->name)) {
        const auto matcher = connectors::alertmanager::Matcher::parse(mapping->remote_address);
        if (!matcher) {
            logger_.warning("mapping " + std::to_string(mapping->id) + ": \"" + mapping->remote_address +
                            "\" is not a label matcher (`*` or name=value,name!=value); it takes no alerts");
            continue;
        }
        std::vector<const connectors::alertmanager::Alert*> taken;
        for (const auto& alert : notification.alerts)
            if (matcher->matches(alert.labels))
                taken.push_back(&alert);
        if (taken.empty())
            continue;
        Message message;
        const bool all_resolved = std::ranges::all_of(
            taken, [](const connectors::alertmanager::Alert* a) { return a->status == "resolved"; });
        message.kind = all_resolved ? "alert-resolved" : "alert";
        message.thread = connectors::alertmanager::group_id(notification);
        message.source = connector->name;
        message.source_id = notification.group_key;
        message.to = mapping->xmpp_address;
        message.text = connectors::alertmanager::format(notification, taken);
        message.timestamp = utc_timestamp();
        entries.push_back({connector->id, "mapping:" + std::to_string(mapping->id) + ":in",
                           mapping->xmpp_address, to_json(message)});
    }
    if (entries.empty()) {
        logger_.warning("webhook " + connector->name + ": no mapping takes the alerts of " +
                        notification.group_key);
        co_return json_error(
            422, "no mapping of \"" + connector->name +
                     "\" takes these alerts; add one with: ferry mapping add --xmpp JID --connector " +
                     connector->name + " --remote '*' --direction in");
    }
    const std::size_t count = entries.size();
    SourceKey source{connector->id, connectors::alertmanager::dedup_id(notification),
                     dedup_window(*connector)};
    const std::optional<EnqueueResult> result =
        co_await pg::within(commit_timeout_, outbox_.enqueue(std::move(entries), std::move(source)));
    if (!result) {
        // It stays queued and is committed once PostgreSQL answers; a resend is then recognised.
        Response busy = json_error(503, "the store did not commit in time; send again later");
        busy.headers.emplace_back("Retry-After", "5");
        co_return busy;
    }
    if (*result == EnqueueResult::committed)
        for (std::size_t i = 0; i < count; ++i)
            metrics_.message_in(connector->name);
    logger_.info("webhook " + connector->name + ": " + notification.status + " " + notification.group_key +
                 " → " +
                 (*result == EnqueueResult::committed ? std::to_string(count) + " message(s) committed"
                                                      : std::string("already seen, nothing new")));
    co_return accepted(count, *result == EnqueueResult::duplicate);
}

} // namespace ferry::core
