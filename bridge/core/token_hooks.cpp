#include "bridge/core/token_hooks.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/store/accounts/base64.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/text/json_input.hpp"

#include <cctype>
#include <variant>

namespace ferry::core {

using http::json_error;
using http::Response;

namespace {

constexpr std::chrono::seconds default_dedup_window{300};

std::string setting(const store::Connector& connector, std::string_view name) {
    return store::text_setting(connector.settings, name);
}

/// The token a request presents, by any of the ways read_token_hook lists; empty when none.
std::string presented_token(const http::Request& request, std::string_view subpath) {
    const std::string_view authorization = request.header("authorization");
    if (const std::string_view bearer = authorization_credentials(authorization, "Bearer"); !bearer.empty())
        return std::string(bearer);
    if (const std::string_view basic = authorization_credentials(authorization, "Basic"); !basic.empty()) {
        try {
            const std::string pair = store::from_base64(basic);
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

Response accepted(std::size_t messages, bool duplicate) {
    Response response;
    response.body = nlohmann::json{{"status", duplicate ? "duplicate" : "accepted"},
                                   {"messages", duplicate ? 0 : messages}}
                        .dump() +
                    "\n";
    return response;
}

} // namespace

namespace {

/// The refusal of a request that fails read_token_hook's checks, or its body parsed as JSON.
std::variant<Response, nlohmann::json> checked_body(const HookCall& call, Logger& logger) {
    const KindSpec& kind = call.kind;
    const store::Connector& connector = call.connector;
    const http::Request& request = call.request;
    // A path under the hook is only ever its token (`/hooks/<name>/<token>`).
    if (!call.subpath.empty() &&
        (setting(connector, "token").empty() || call.subpath.find('/', 1) != std::string_view::npos))
        return json_error(404, "no such path under webhook \"" + connector.name + "\"");
    if (request.method != "POST") {
        Response refused = json_error(405, "webhooks take POST");
        refused.headers.emplace_back("Allow", "POST");
        return refused;
    }
    const std::string token = setting(connector, "token");
    const std::string secret =
        kind.setting("secret") != nullptr ? setting(connector, "secret") : std::string();
    // A hook without a token or signature takes nothing, unless its operator said auth=none (a connector
    // added by an older ferry, which allowed that by accident).
    if (token.empty() && secret.empty() && !open_by_choice(connector.settings)) {
        logger.warning("webhook " + connector.name + ": refused a request from " + request.remote +
                       ": the connector has no token" +
                       (kind.setting("secret") != nullptr ? " or secret" : ""));
        return json_error(403, "webhook \"" + connector.name +
                                   "\" has no token, so its requests cannot be verified and none is taken; "
                                   "set one with: ferry connector set " +
                                   connector.name + " --setting token=... (or auth=none to take any)");
    }
    if (!token.empty()) {
        const std::string given = presented_token(request, call.subpath);
        if (given.empty() || !same_secret(given, token)) {
            logger.warning("webhook " + connector.name + ": refused a request from " + request.remote +
                           (given.empty() ? " without a token" : " with a wrong token"));
            Response refused = json_error(
                401, given.empty() ? "this webhook needs a token (Authorization: Bearer …)" : "wrong token");
            refused.headers.emplace_back("WWW-Authenticate", "Bearer");
            return refused;
        }
    }
    if (!secret.empty() && !signature_matches(request, secret)) {
        logger.warning("webhook " + connector.name + ": refused a request from " + request.remote +
                       " whose X-Hub-Signature-256 does not match");
        return json_error(401, "X-Hub-Signature-256 is missing or does not match the body");
    }
    try {
        return text::parse_json(request.body);
    } catch (const text::JsonInputError& e) {
        return json_error(400, std::string("the body is not JSON: ") + e.what());
    }
}

} // namespace

HookReading read_token_hook(const HookCall& call, Logger& logger,
                            const std::function<HookReading(const nlohmann::json& body)>& read) {
    auto body = checked_body(call, logger);
    if (auto* refusal = std::get_if<Response>(&body)) {
        HookReading reading;
        reading.answer_now = std::move(*refusal);
        return reading;
    }
    return read(std::get<nlohmann::json>(body));
}

SettingSpec token_setting() {
    return {"token", false, true, "",
            "the token senders present: Authorization: Bearer, basic-auth password, X-Ferry-Token or "
            "/hooks/NAME/TOKEN"};
}

SettingSpec auth_setting() {
    return {"auth", false, false, "",
            "none: take requests without authentication (shown in every listing, warned about at start)"};
}

HookReading accepted_reading(Arrival arrival) {
    HookReading reading;
    const std::size_t count = arrival.entries.size();
    reading.arrival = std::move(arrival);
    reading.on_commit = accepted(count, false);
    reading.on_duplicate = accepted(count, true);
    return reading;
}

HookReading refused_reading(int status, const std::string& reason) {
    HookReading reading;
    reading.answer_now = json_error(status, reason);
    return reading;
}

std::chrono::seconds dedup_window(const store::Connector& connector) {
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

} // namespace ferry::core
