#include "connectors/rest/rest_connector.hpp"

#include "bridge/http/client.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/text/json_input.hpp"
#include "bridge/xmpp/jid.hpp"
#include "connectors/formats/json_text.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cmath>

namespace ferry::connectors::rest {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::chrono::milliseconds max_pace_wait_per_batch{1000};

int positive_number(const std::string& text, const std::string& name) {
    if (text.empty() || text.size() > 9 ||
        !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; }))
        throw std::invalid_argument(name + " is a number of milliseconds, not \"" + text + "\"");
    return std::stoi(text);
}

/// The sender as the other side should see it: the message's display name, else the room nick (the
/// resource of a room occupant) or the JID's local part.
std::string display_sender(const core::Message& message) {
    if (!message.sender_name.empty())
        return message.sender_name;
    if (message.source != "xmpp")
        return message.from;
    const auto jid = xmpp::Jid::parse(message.from);
    if (!jid)
        return message.from;
    return jid->local().empty() ? jid->domain() : jid->local();
}

std::optional<json> body_json(const http::ClientResponse& response) {
    try {
        return text::parse_json(response.body, text::JsonNul::replace);
    } catch (const text::JsonInputError&) {
        return std::nullopt;
    }
}

std::string text_at(const std::optional<json>& body, const std::string& pointer) {
    return body ? formats::text_at(*body, pointer).value_or("") : std::string();
}

} // namespace

void check_settings(const Preset& preset, const json& settings) {
    for (const auto& [name, value] : settings.items()) {
        if (preset.setting(name) == nullptr) {
            std::string known;
            for (const auto& s : preset.settings)
                known += (known.empty() ? "" : ", ") + s.name;
            for (const auto& s : common_settings())
                known += ", " + s.name;
            throw std::invalid_argument("unknown setting \"" + name + "\" for connector kind " + preset.kind +
                                            " (known: " += known + ")");
        }
        if (!value.is_string())
            throw std::invalid_argument("setting " + name + " must be text");
    }
    for (const auto& spec : preset.settings)
        if (spec.required && store::text_setting(settings, spec.name).empty())
            throw std::invalid_argument("connector kind " + preset.kind + " needs --setting " + spec.name +
                                        "=... (" + spec.help + ")");
    const std::string allow = store::text_setting(settings, "allow_private");
    if (!allow.empty() && allow != "yes" && allow != "no")
        throw std::invalid_argument("allow_private is yes or no");
    for (const char* number : {"pace_ms", "timeout_ms"})
        if (const std::string text = store::text_setting(settings, number); !text.empty())
            positive_number(text, number);
    // 0 would mean "no limit" to curl: a stalled service would hold its conversation past the outbox lease.
    if (const std::string timeout = store::text_setting(settings, "timeout_ms");
        !timeout.empty() && positive_number(timeout, "timeout_ms") == 0)
        throw std::invalid_argument("timeout_ms must be at least 1");
    if (const std::string body = store::text_setting(settings, "body_template"); !body.empty()) {
        try {
            check_json_template(json::parse(body));
        } catch (const json::exception& e) {
            throw std::invalid_argument(std::string("body_template is not JSON: ") + e.what());
        } catch (const TemplateError& e) {
            throw std::invalid_argument(std::string("body_template: ") + e.what());
        }
    }
}

namespace {

json merged_settings(const Preset& preset, const json& settings) {
    check_settings(preset, settings);
    return preset.with_defaults(settings);
}

json body_of(const SendSpec& send, const json& settings) {
    const std::string custom = store::text_setting(settings, "body_template");
    return custom.empty() ? send.body : json::parse(custom);
}

} // namespace

RestConnector::Compiled RestConnector::compile(const SendSpec& spec, const json& body) {
    Compiled compiled{&spec, Template(spec.url), {}, JsonTemplate(body, spec.format)};
    for (const auto& [name, value] : spec.headers.items())
        compiled.headers.emplace_back(name, Template(value.get<std::string>()));
    return compiled;
}

RestConnector::RestConnector(const Preset& preset, const json& settings, http::Client& client,
                             RemoteIdLookup lookup)
    : settings_(merged_settings(preset, settings)),
      send_(compile(preset.send.value(), body_of(*preset.send, settings_))), client_(client),
      lookup_(std::move(lookup)) {
    if (preset.edit)
        edit_ = compile(*preset.edit, preset.edit->body);
    if (preset.retract)
        retract_ = compile(*preset.retract, preset.retract->body);
    allow_private_ = store::text_setting(settings_, "allow_private") == "yes";
    const std::string pace = store::text_setting(settings_, "pace_ms");
    pace_ = std::chrono::milliseconds(pace.empty() ? preset.send->pace_ms : positive_number(pace, "pace_ms"));
    if (const std::string timeout = store::text_setting(settings_, "timeout_ms"); !timeout.empty())
        timeout_ = std::chrono::milliseconds(positive_number(timeout, "timeout_ms"));
}

/// A connector's `avatar_url` for one sender: `{sender}` in it becomes the sender's name, URL-encoded
/// (`https://avatars.example.org/{sender}.png`), so each one has their own picture.
static std::string sender_avatar(const json& settings, const std::string& sender) {
    std::string url = store::text_setting(settings, "avatar_url");
    constexpr std::string_view placeholder = "{sender}";
    if (const auto at = url.find(placeholder); at != std::string::npos)
        url.replace(at, placeholder.size(), boost::urls::encode(sender, boost::urls::unreserved_chars));
    return url;
}

json RestConnector::context(const Delivery& delivery, const std::string& remote_id) const {
    const core::Message& m = delivery.message;
    const std::string sender = display_sender(m);
    return {{"text", m.text},
            {"sender", sender},
            {"sender_avatar", sender_avatar(settings_, sender)},
            {"destination", delivery.destination},
            {"key", delivery.idempotency_key},
            {"thread", m.thread},
            {"subject", m.subject},
            {"attempt", delivery.attempt},
            {"remote_id", m.kind == "reply" ? std::string() : remote_id},
            {"reply_to_id", m.kind == "reply" ? remote_id : std::string()},
            {"message", core::to_json(m)},
            {"settings", settings_}};
}

std::chrono::milliseconds RestConnector::pace_wait(const std::string& destination) const {
    const auto found = next_send_.find(destination);
    if (found == next_send_.end())
        return std::chrono::milliseconds(0);
    const auto now = std::chrono::steady_clock::now();
    return found->second > now ? std::chrono::ceil<std::chrono::milliseconds>(found->second - now)
                               : std::chrono::milliseconds(0);
}

asio::awaitable<DeliveryResult> RestConnector::send(const Delivery& delivery) {
    const core::Message& m = delivery.message;
    // Corrections, retractions and replies name an earlier XMPP message: find what it became here.
    std::optional<std::string> remote_id;
    if (!m.refers_to.empty() && lookup_) {
        bool unavailable = false;
        // Anyone may answer a message; only its author may correct or retract it. (Not a conditional inside
        // the co_await: GCC 12 destroys such a temporary twice.)
        std::string author;
        if (m.kind != "reply")
            author = core::xmpp_author(m);
        const bool thread_root = m.kind == "reply" && send_.spec->threads;
        try {
            remote_id = co_await lookup_(delivery.conversation, m.refers_to, author, thread_root);
        } catch (const std::exception&) {
            unavailable = true;
        }
        if (unavailable)
            co_return DeliveryResult::retry("cannot look up the message this one refers to in message_map");
    }
    if (m.kind == "edit" && remote_id && edit_)
        co_return co_await request(*edit_, delivery, context(delivery, *remote_id));
    if (m.kind == "retraction") {
        if (remote_id && retract_)
            co_return co_await request(*retract_, delivery, context(delivery, *remote_id));
        // No way to take it back there: say so, readably.
        core::Message notice = m;
        notice.kind = "message";
        notice.text = "(retracted an earlier message)";
        const Delivery fallback{delivery.idempotency_key, delivery.destination, delivery.conversation, notice,
                                delivery.attempt};
        co_return co_await request(send_, fallback, context(fallback));
    }
    if (m.kind == "edit") {
        core::Message corrected = m;
        corrected.text = "(correction) " + m.text;
        const Delivery fallback{delivery.idempotency_key, delivery.destination, delivery.conversation,
                                corrected, delivery.attempt};
        co_return co_await request(send_, fallback, context(fallback));
    }
    DeliveryResult result = co_await request(send_, delivery, context(delivery, remote_id.value_or("")));
    if (m.kind == "reply" && remote_id && send_.spec->threads)
        result.thread_root = *remote_id;
    co_return result;
}

asio::awaitable<DeliveryResult> RestConnector::request(const Compiled& compiled, const Delivery& delivery,
                                                       const json& ctx) {
    http::ClientRequest request;
    try {
        request.method = compiled.spec->method;
        request.url = compiled.url.render(ctx);
        for (const auto& [name, header] : compiled.headers) {
            std::string rendered = header.render(ctx);
            if (!rendered.empty())
                request.headers.emplace_back(name, std::move(rendered));
        }
        if (request.method != "DELETE")
            request.body = compiled.body.render(ctx).dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const std::exception& e) {
        co_return DeliveryResult::failed(std::string("the request could not be built: ") + e.what());
    }
    request.timeout = timeout_;
    request.allow_private = allow_private_;
    if (pace_.count() > 0)
        next_send_[delivery.destination] = std::chrono::steady_clock::now() + pace_;
    const http::ClientResponse response = co_await client_.perform(std::move(request));
    co_return judge(*compiled.spec, response);
}

asio::awaitable<std::vector<DeliveryResult>>
RestConnector::send_batch(std::vector<const Delivery*> deliveries) {
    std::vector<DeliveryResult> results;
    std::chrono::milliseconds waited{0};
    for (const Delivery* delivery : deliveries) {
        // A correction, retraction or reply needs the remote id of an earlier row, which message_map holds
        // only once this batch is recorded: it starts the next round instead.
        if (!results.empty() && !delivery->message.refers_to.empty())
            break;
        const auto wait = pace_wait(delivery->destination);
        if (wait.count() > 0) {
            // Pacing holds the dispatcher's batch, so it waits a little; the rest goes in a later round.
            if (waited + wait > max_pace_wait_per_batch && !results.empty())
                break;
            asio::steady_timer pause(co_await asio::this_coro::executor, wait);
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            waited += wait;
        }
        DeliveryResult result = co_await send(*delivery);
        const bool stop = result.outcome == DeliveryResult::Outcome::retry;
        results.push_back(std::move(result));
        if (stop)
            break;
    }
    co_return results;
}

DeliveryResult RestConnector::judge(const SendSpec& spec, const http::ClientResponse& response) const {
    if (response.status == 0)
        return response.refused ? DeliveryResult::failed(response.error)
                                : DeliveryResult::retry(response.error);
    const std::optional<json> body = body_json(response);
    std::string service_error = text_at(body, spec.error_at);
    if (service_error.empty() && !body)
        service_error = response.body.substr(0, 200);
    const std::string described =
        "HTTP " + std::to_string(response.status) + (service_error.empty() ? "" : ": " + service_error);

    std::optional<std::chrono::milliseconds> after;
    for (const RetryAfterSource& source : spec.retry_after) {
        std::string figure;
        if (!source.header.empty())
            figure = std::string(response.header(source.header).value_or(""));
        else
            figure = text_at(body, source.pointer);
        try {
            const double value = figure.empty() ? -1 : std::stod(figure);
            if (value >= 0 && std::isfinite(value)) {
                after = std::chrono::milliseconds(
                    static_cast<long long>(std::ceil(value * source.milliseconds_per_unit)));
                break;
            }
        } catch (const std::exception&) {
            // An HTTP date or garbage: the dispatcher's own backoff applies.
        }
    }
    const bool transient =
        std::ranges::find(spec.transient_errors, service_error) != spec.transient_errors.end();
    if (response.status == 429 || response.status == 408 || response.status >= 500 || transient)
        return DeliveryResult::retry(described, after);
    if (response.status < 200 || response.status >= 300)
        return DeliveryResult::failed(described);
    for (const auto& [pointer, wanted] : spec.ok_when.items()) {
        bool ok = false;
        try {
            ok = body && body->at(json::json_pointer(pointer)) == wanted;
        } catch (const json::exception&) {
        }
        if (!ok)
            return DeliveryResult::failed(described);
    }
    return DeliveryResult::delivered(text_at(body, spec.remote_id));
}

} // namespace ferry::connectors::rest
