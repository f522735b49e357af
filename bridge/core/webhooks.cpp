#include "bridge/core/webhooks.hpp"

#include "bridge/core/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/core/sender_names.hpp"
#include "bridge/core/service_hooks.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/text/json_input.hpp"
#include "bridge/text/log_text.hpp"
#include "connectors/kinds.hpp"
#include "connectors/rest/alertmanager.hpp"
#include "connectors/rest/json_text.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/template.hpp"
#include "mappings/accounts/base64.hpp"
#include "mappings/conversations.hpp"
#include "mappings/mapping_store.hpp"
#include "mappings/pg/within.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace ferry::core {

namespace asio = boost::asio;
using http::json_error;
using http::Response;

namespace {

constexpr std::chrono::seconds default_dedup_window{300};

std::string setting(const mappings::Connector& connector, std::string_view name) {
    return mappings::text_setting(connector.settings, name);
}

/// The token a request presents: `Authorization: Bearer <token>`, the password of `Authorization: Basic`
/// (for senders that only do basic auth), `X-Ferry-Token`, or the path segment after the hook's name
/// (`/hooks/<name>/<token>`, for senders that can only be given a URL).
std::string presented_token(const http::Request& request, std::string_view subpath) {
    const std::string_view authorization = request.header("authorization");
    if (const std::string_view bearer = authorization_credentials(authorization, "Bearer"); !bearer.empty())
        return std::string(bearer);
    if (const std::string_view basic = authorization_credentials(authorization, "Basic"); !basic.empty()) {
        try {
            const std::string pair = mappings::from_base64(basic);
            const auto colon = pair.find(':');
            return colon == std::string::npos ? std::string() : pair.substr(colon + 1);
        } catch (const std::invalid_argument&) {
            return {};
        }
    }
    if (const std::string_view header = request.header("x-ferry-token"); !header.empty())
        return std::string(header);
    if (subpath.size() > 1 && subpath.find('/', 1) == std::string_view::npos)
        return std::string(subpath.substr(1));
    return {};
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

Webhooks::Webhooks(const mappings::MappingStore& store, Inlet& inlet, Logger& logger)
    : store_(store), inlet_(inlet), logger_(logger) {}

bool Webhooks::serves_kind(std::string_view kind) {
    if (kind == "alertmanager" || kind == "grafana" || kind == "webhook")
        return true;
    const connectors::rest::Preset* preset = connectors::rest::find_preset(kind);
    return preset != nullptr && preset->receive.has_value();
}

namespace {

/// What a webhook body becomes: rows for the outbox and the key that makes a resend a duplicate, or the
/// refusal to answer with.
struct Inbound {
    std::vector<OutboxEntry> entries;
    std::optional<SourceKey> source;
    std::string summary; ///< for the log line
    std::optional<Response> refusal;
};

Inbound refuse(int status, const std::string& reason) {
    Inbound in;
    in.refusal = json_error(status, reason);
    return in;
}

std::string row_conversation(const mappings::Mapping& mapping) {
    return mappings::inbound_conversation(mapping.id);
}

/// Alertmanager and Grafana: alerts routed by label, one message per mapping that takes some.
Inbound alerts(const mappings::MappingSnapshot& snapshot, const mappings::Connector& connector,
               const nlohmann::json& body, Logger& logger) {
    namespace am = connectors::alertmanager;
    const bool grafana = connector.kind == "grafana";
    am::Notification notification;
    try {
        notification = am::parse(body, grafana ? am::Flavor::grafana : am::Flavor::alertmanager);
    } catch (const std::invalid_argument& e) {
        return refuse(400, std::string("not ") + (grafana ? "a Grafana alerting" : "an Alertmanager") +
                               " notification: " + e.what());
    }
    Inbound in;
    for (const mappings::Mapping* mapping : snapshot.inbound_of(connector.name)) {
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
        Message message;
        const bool all_resolved =
            std::ranges::all_of(taken, [](const am::Alert* a) { return a->status == "resolved"; });
        message.kind = all_resolved ? "alert-resolved" : "alert";
        message.thread = am::group_id(notification);
        message.source = connector.name;
        message.source_id = notification.group_key;
        message.to = mapping->xmpp_address;
        message.text = am::format(notification, taken);
        message.timestamp = utc_timestamp();
        for (const am::Alert* alert : taken) {
            // One episode of an alert: the fingerprint stays when it fires again later, startsAt does not.
            const std::string episode = alert->fingerprint + "@" + alert->starts_at;
            if (alert->fingerprint.empty() || episode.find(' ') != std::string::npos)
                continue;
            std::string& list = alert->status == "resolved" ? message.resolved : message.firing;
            list += (list.empty() ? "" : " ") + episode;
        }
        message.resolution = am::resolution_line(notification, taken);
        in.entries.push_back(
            {connector.id, row_conversation(*mapping), mapping->xmpp_address, to_json(message)});
    }
    if (in.entries.empty()) {
        logger.warning("webhook " + connector.name + ": no mapping takes the alerts of group " +
                       text::quoted(notification.group_key));
        return refuse(422,
                      "no mapping of \"" + connector.name +
                          "\" takes these alerts; add one with: ferry mapping add --xmpp JID --connector " +
                          connector.name + " --remote '*' --direction in");
    }
    in.source = SourceKey{connector.id, am::dedup_id(notification), dedup_window(connector)};
    in.summary = text::shortened(notification.status, 16) + " " + text::quoted(notification.group_key);
    return in;
}

/// Generic JSON: the text (and optionally the sender and the target) picked by JSON Pointers from settings.
Inbound generic(const mappings::MappingSnapshot& snapshot, const mappings::Connector& connector,
                const nlohmann::json& body, const http::Request& request) {
    std::optional<std::string> text;
    if (const std::string source = setting(connector, "template"); !source.empty()) {
        try {
            text = connectors::rest::Template(source).render(body);
        } catch (const connectors::rest::TemplateError& e) {
            return refuse(500, std::string("the connector's template does not compile: ") + e.what());
        }
        if (text->find_first_not_of(" \t\r\n") == std::string::npos)
            return refuse(400, "the connector's template makes no text of this body");
    } else {
        const std::string text_pointer =
            setting(connector, "text").empty() ? "/text" : setting(connector, "text");
        text = connectors::rest::text_at(body, text_pointer);
        if (!text || text->empty())
            return refuse(400, "the body has no text at " + text_pointer);
    }
    std::optional<std::string> target;
    if (const std::string pointer = setting(connector, "target"); !pointer.empty()) {
        target = connectors::rest::text_at(body, pointer);
        if (!target)
            return refuse(400, "the body has no target at " + pointer);
    }
    std::optional<std::string> sender;
    if (const std::string pointer = setting(connector, "sender"); !pointer.empty())
        sender = connectors::rest::text_at(body, pointer);
    Inbound in;
    for (const mappings::Mapping* mapping : snapshot.inbound_of(connector.name)) {
        if (mapping->remote_address != "*" && (!target || mapping->remote_address != *target))
            continue;
        Message message;
        message.source = connector.name;
        message.from = sender.value_or("");
        message.to = mapping->xmpp_address;
        message.text = *text;
        message.timestamp = utc_timestamp();
        in.entries.push_back(
            {connector.id, row_conversation(*mapping), mapping->xmpp_address, to_json(message)});
    }
    if (in.entries.empty())
        return refuse(422, "no mapping of \"" + connector.name + "\" takes " +
                               (target ? "target \"" + *target + "\"" : std::string("this message")) +
                               "; add one with: ferry mapping add --xmpp JID --connector " + connector.name +
                               " --remote '*' --direction in");
    if (const std::string header = setting(connector, "id_header"); !header.empty()) {
        std::string name = header;
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const std::string_view id = request.header(name); !id.empty() && id.size() <= 512)
            in.source = SourceKey{connector.id, "delivery:" + std::string(id), std::nullopt};
    }
    in.summary = "message" + (in.source ? " " + text::quoted(in.source->source_id) : std::string());
    return in;
}

/// GitHub-style `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
bool signature_matches(const http::Request& request, const std::string& secret) {
    const std::string_view given = request.header("x-hub-signature-256");
    constexpr std::string_view prefix = "sha256=";
    if (!given.starts_with(prefix))
        return false;
    const std::string expected = hmac_sha256_hex(secret, request.body);
    if (expected.empty())
        return false;
    std::string lowered(given.substr(prefix.size()));
    for (char& c : lowered)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return same_secret(lowered, expected);
}

} // namespace

asio::awaitable<Response> Webhooks::handle(const http::Request& request, std::string_view hook,
                                           std::string_view subpath) {
    const auto snapshot = store_.snapshot();
    const mappings::Connector* connector = snapshot->connector(hook);
    if (connector == nullptr || !serves_kind(connector->kind))
        co_return json_error(404, "no webhook named \"" + std::string(hook) + "\"");
    if (const connectors::rest::Preset* preset = connectors::rest::find_preset(connector->kind)) {
        if (!connector->enabled)
            co_return json_error(404, "webhook \"" + connector->name + "\" is disabled");
        co_return co_await from_service(*preset, *snapshot, *connector, request, subpath);
    }
    // A path under the hook is only ever its token (`/hooks/<name>/<token>`).
    if (!subpath.empty() &&
        (setting(*connector, "token").empty() || subpath.find('/', 1) != std::string_view::npos))
        co_return json_error(404, "no such path under webhook \"" + connector->name + "\"");
    if (request.method != "POST") {
        Response refused = json_error(405, "webhooks take POST");
        refused.headers.emplace_back("Allow", "POST");
        co_return refused;
    }
    if (!connector->enabled)
        co_return json_error(404, "webhook \"" + connector->name + "\" is disabled");
    const std::string token = setting(*connector, "token");
    const std::string secret = setting(*connector, "secret");
    // A hook without a token or signature takes nothing, unless its operator said auth=none (a connector
    // added by an older ferry, which allowed that by accident).
    if (token.empty() && secret.empty() && !connectors::open_by_choice(connector->settings)) {
        logger_.warning("webhook " + connector->name + ": refused a request from " + request.remote +
                        ": the connector has no token" + (connector->kind == "webhook" ? " or secret" : ""));
        co_return json_error(403,
                             "webhook \"" + connector->name +
                                 "\" has no token, so its requests cannot be verified and none is taken; "
                                 "set one with: ferry connector set " +
                                 connector->name + " --setting token=... (or auth=none to take any)");
    }
    if (!token.empty()) {
        const std::string given = presented_token(request, subpath);
        if (given.empty() || !same_secret(given, token)) {
            logger_.warning("webhook " + connector->name + ": refused a request from " + request.remote +
                            (given.empty() ? " without a token" : " with a wrong token"));
            Response refused = json_error(
                401, given.empty() ? "this webhook needs a token (Authorization: Bearer …)" : "wrong token");
            refused.headers.emplace_back("WWW-Authenticate", "Bearer");
            co_return refused;
        }
    }
    if (!secret.empty() && !signature_matches(request, secret)) {
        logger_.warning("webhook " + connector->name + ": refused a request from " + request.remote +
                        " whose X-Hub-Signature-256 does not match");
        co_return json_error(401, "X-Hub-Signature-256 is missing or does not match the body");
    }
    nlohmann::json body;
    try {
        body = text::parse_json(request.body);
    } catch (const text::JsonInputError& e) {
        co_return json_error(400, std::string("the body is not JSON: ") + e.what());
    }
    Inbound in;
    try {
        in = connector->kind == "webhook" ? generic(*snapshot, *connector, body, request)
                                          : alerts(*snapshot, *connector, body, logger_);
    } catch (const nlohmann::json::exception& e) {
        // A value of another type than the payload's documentation gives it.
        co_return json_error(400, "the body does not have the expected shape: " + text::shortened(e.what()));
    }
    if (in.refusal)
        co_return std::move(*in.refusal);

    const std::size_t count = in.entries.size();
    // Named, not temporaries in the co_await expression: GCC 12 destroys those twice.
    Arrival arrival{std::move(in.entries), std::move(in.source), std::move(in.summary)};
    Response on_commit = accepted(count, false);
    Response on_duplicate = accepted(count, true);
    co_return co_await commit(*connector, std::move(arrival), std::move(on_commit), std::move(on_duplicate));
}

asio::awaitable<Response> Webhooks::from_service(const connectors::rest::Preset& preset,
                                                 const mappings::MappingSnapshot& snapshot,
                                                 const mappings::Connector& connector,
                                                 const http::Request& request, std::string_view subpath) {
    ServiceRequest in;
    try {
        in = read_service_request(*preset.receive, snapshot, connector, request, subpath,
                                  std::chrono::system_clock::now(), logger_);
    } catch (const nlohmann::json::exception& e) {
        co_return json_error(400, "the body does not have the expected shape: " + text::shortened(e.what()));
    }
    if (in.answer_now) {
        if (in.answer_now->status >= 400)
            logger_.warning("webhook " + connector.name + ": refused a request from " + request.remote +
                            ": " + in.answer_now->body);
        else if (!in.summary.empty())
            logger_.info("webhook " + connector.name + ": " + in.summary);
        co_return std::move(*in.answer_now);
    }
    Response ack = in.answer_after_commit;
    Arrival arrival{std::move(in.entries), std::move(in.source), std::move(in.summary), &preset};
    co_return co_await commit(connector, std::move(arrival), ack, ack);
}

asio::awaitable<Response> Webhooks::commit(const mappings::Connector& connector, Arrival arrival,
                                           Response on_commit, Response on_duplicate) {
    switch (co_await inlet_.take(connector, "webhook", std::move(arrival))) {
    case InletOutcome::committed:
        co_return on_commit;
    case InletOutcome::duplicate:
        co_return on_duplicate;
    case InletOutcome::store_slow:
        break;
    }
    // It stays queued and is committed once PostgreSQL answers; a resend is then recognised.
    Response busy = json_error(503, "the store did not commit in time; send again later");
    busy.headers.emplace_back("Retry-After", "5");
    co_return busy;
}

} // namespace ferry::core
