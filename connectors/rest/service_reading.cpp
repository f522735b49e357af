#include "connectors/rest/service_reading.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/text/json_input.hpp"
#include "connectors/formats/json_text.hpp"
#include "connectors/formats/styling.hpp"
#include "connectors/rest/preset.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <nlohmann/json.hpp>

namespace ferry::connectors::rest {

using namespace core; // the core's outbox, inlet and leases, spoken throughout

using json = nlohmann::json;
using http::json_error;

namespace {

constexpr std::chrono::seconds slack_replay_window{300}; // Slack: reject requests older than five minutes
constexpr std::chrono::hours redelivery_window{24};

std::string setting(const store::Connector& connector, std::string_view name) {
    return store::text_setting(connector.settings, name);
}

/// The value at `pointer` as text (numbers as digits, absent or null as empty).
std::string text_at(const json& document, const std::string& pointer) {
    return formats::text_at(document, pointer).value_or("");
}

bool truthy_at(const json& document, const std::string& pointer) {
    try {
        const json& value = document.at(json::json_pointer(pointer));
        if (value.is_boolean())
            return value.get<bool>();
        if (value.is_string())
            return !value.get_ref<const std::string&>().empty();
        return !value.is_null();
    } catch (const json::exception&) {
        return false;
    }
}

/// True when every pointer of `conditions` has exactly its value in `document`.
bool all_match(const json& document, const json& conditions) {
    for (const auto& [pointer, wanted] : conditions.items()) {
        try {
            if (document.at(json::json_pointer(pointer)) != wanted)
                return false;
        } catch (const json::exception&) {
            return false;
        }
    }
    return true;
}

http::Response unauthorized(const std::string& reason) {
    return json_error(401, reason);
}

std::optional<http::Response> verify(const VerifySpec& spec, const store::Connector& connector,
                                     const http::Request& request, const json& body,
                                     std::chrono::system_clock::time_point now) {
    if (spec.scheme == "none")
        return std::nullopt;
    const std::string secret = setting(connector, spec.setting);
    if (secret.empty())
        return json_error(403, "connector \"" + connector.name + "\" has no " + spec.setting +
                                   " setting, so its requests cannot be verified and none is taken");
    if (spec.scheme == "slack_v0") {
        const std::string timestamp(request.header("x-slack-request-timestamp"));
        const std::string_view signature = request.header("x-slack-signature");
        if (timestamp.empty() || signature.empty())
            return unauthorized("X-Slack-Signature and X-Slack-Request-Timestamp are required");
        long long seconds = 0;
        try {
            std::size_t used = 0;
            seconds = std::stoll(timestamp, &used);
            if (used != timestamp.size())
                throw std::invalid_argument("trailing characters");
        } catch (const std::exception&) {
            return unauthorized("X-Slack-Request-Timestamp is not a number of seconds");
        }
        const auto sent = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
        if (sent < now - slack_replay_window || sent > now + slack_replay_window)
            return unauthorized(
                "X-Slack-Request-Timestamp is more than five minutes away from now (a replay?)");
        const std::string expected = "v0=" + hmac_sha256_hex(secret, "v0:" + timestamp + ":" + request.body);
        if (!same_secret(signature, expected))
            return unauthorized("X-Slack-Signature does not match the body");
        return std::nullopt;
    }
    std::string given;
    if (spec.scheme == "token_field") {
        given = text_at(body, spec.where);
    } else if (spec.scheme == "header") {
        given = std::string(request.header(spec.where));
    } else if (spec.scheme == "bearer") {
        const std::string_view bearer = authorization_credentials(request.header("authorization"), "Bearer");
        if (!bearer.empty()) {
            given = std::string(bearer);
        } else if (const auto query = boost::urls::parse_origin_form(request.target); query) {
            // Homeservers before Matrix v1.4 send the token as ?access_token=.
            for (const auto& param : query->params())
                if (param.key == "access_token")
                    given = param.value;
        }
    }
    if (given.empty())
        return unauthorized("this request carries no " + spec.setting);
    if (!same_secret(given, secret))
        return unauthorized("wrong " + spec.setting);
    return std::nullopt;
}

/// application/x-www-form-urlencoded as a JSON object of strings.
std::optional<json> form_fields(const std::string& body) {
    const auto parsed = boost::urls::parse_query(body);
    if (!parsed)
        return std::nullopt;
    boost::urls::encoding_opts options;
    options.space_as_plus = true;
    json fields = json::object();
    for (const auto& param : *parsed) {
        std::string key;
        std::string value;
        param.key.decode(options, boost::urls::string_token::assign_to(key));
        param.value.decode(options, boost::urls::string_token::assign_to(value));
        fields[key] = value;
    }
    return fields;
}

std::string xmpp_text(const std::string& text, const std::string& format) {
    if (format == "mrkdwn")
        return formats::from_mrkdwn(text);
    if (format == "markdown")
        return formats::from_markdown(text);
    return text;
}

/// `text` with the formatting ranges at `pointer` (Telegram's entities) as XEP-0393 styling; malformed
/// ranges are left out.
std::string entity_styled(const json& event, const std::string& pointer, std::string text) {
    if (pointer.empty())
        return text;
    std::vector<formats::TextEntity> entities;
    try {
        const json& list = event.at(json::json_pointer(pointer));
        const auto count = [](const json& e, const char* name) -> std::optional<std::size_t> {
            const auto found = e.find(name);
            if (found == e.end() || !found->is_number_integer() || found->get<long long>() < 0)
                return std::nullopt;
            return found->get<std::size_t>();
        };
        for (const json& e : list) {
            if (!e.is_object() || !e.contains("type") || !e["type"].is_string())
                continue;
            const auto offset = count(e, "offset");
            const auto length = count(e, "length");
            if (!offset || !length)
                continue;
            const auto url = e.find("url");
            entities.push_back(
                {e["type"].get<std::string>(), *offset, *length,
                 url != e.end() && url->is_string() ? url->get<std::string>() : std::string()});
        }
    } catch (const json::exception&) {
        return text; // none there, or not a list
    }
    return formats::from_entities(text, entities);
}

/// The first of `pointers` with a text at it.
std::string first_text_at(const json& document, const std::vector<std::string>& pointers) {
    for (const std::string& pointer : pointers)
        if (std::string text = text_at(document, pointer); !text.empty())
            return text;
    return {};
}

bool any_present(const json& document, const std::vector<std::string>& pointers) {
    return std::ranges::any_of(pointers,
                               [&](const std::string& pointer) { return truthy_at(document, pointer); });
}

/// The events at `pointer` ("" = the body itself): an array's items, or one object.
std::vector<const json*> events_at(const json& body, const std::string& pointer) {
    const json* located = &body;
    if (!pointer.empty()) {
        try {
            located = &body.at(json::json_pointer(pointer));
        } catch (const json::exception&) {
            return {};
        }
    }
    std::vector<const json*> events;
    if (located->is_array()) {
        for (const json& event : *located)
            events.push_back(&event);
    } else if (located->is_object()) {
        events.push_back(located);
    }
    return events;
}

/// A reply that starts with the answered message as "> " lines and a blank line (Matrix's reply fallback),
/// without them; the text itself when it is nothing but a quote.
std::string without_reply_quote(const std::string& text) {
    std::size_t at = 0;
    while (at < text.size() && text[at] == '>') {
        const std::size_t end = text.find('\n', at);
        if (end == std::string::npos)
            return text;
        at = end + 1;
    }
    if (at < text.size() && text[at] == '\n')
        ++at;
    return at < text.size() ? text.substr(at) : text;
}

/// One event as a message, a reply, an edit or a retraction, in the service's terms.
struct EventReading {
    std::string kind;
    std::string channel;
    std::string sender;
    std::string sender_name;
    std::string text;
    std::string message_id;
    std::string refers_to;
    bool marked_up = true; ///< the text is in the preset's format (else plain)
};

std::optional<EventReading> read_change(const json& event, const ChangeSpec& change, const char* kind) {
    if (any_present(event, change.skip_if_present))
        return std::nullopt; // a bot changed its message (often Ferry's own): not news
    EventReading reading;
    reading.kind = kind;
    reading.marked_up = all_match(event, change.format_when);
    reading.channel = text_at(event, change.channel);
    reading.sender = text_at(event, change.sender);
    reading.sender_name = text_at(event, change.sender_name);
    reading.text = entity_styled(event, change.entities, text_at(event, change.text));
    reading.refers_to = first_text_at(event, change.refers_to);
    if (reading.refers_to.empty())
        return std::nullopt;
    if (reading.kind == std::string_view("edit") &&
        (reading.text.empty() ||
         (!change.previous_text.empty() && text_at(event, change.previous_text) == reading.text)))
        return std::nullopt; // the text did not change (Slack reports link previews as changes)
    return reading;
}

std::optional<EventReading> read_message(const json& event, const ReceiveSpec& spec) {
    if (!all_match(event, spec.only) || any_present(event, spec.skip_if_present))
        return std::nullopt; // not a message, or a bot's (often Ferry's own, echoed back): bridging it would
                             // loop
    EventReading reading;
    reading.kind = "message";
    reading.marked_up = all_match(event, spec.format_when);
    reading.channel = text_at(event, spec.channel);
    reading.sender = text_at(event, spec.sender);
    reading.sender_name = text_at(event, spec.sender_name);
    reading.text = entity_styled(event, spec.entities, text_at(event, spec.text));
    reading.message_id = text_at(event, spec.message_id);
    const std::string answered = text_at(event, spec.reply_to);
    if (!answered.empty() && answered != reading.message_id) { // Slack: a thread's first message names itself
        reading.kind = "reply";
        reading.refers_to = answered;
        if (spec.strip_reply_quote)
            reading.text = without_reply_quote(reading.text);
    }
    if (reading.text.empty())
        return std::nullopt;
    return reading;
}

/// Every event of `body` worth bridging, in order: each read as an edit or a retraction when it is one,
/// else as a message.
std::vector<EventReading> read_events(const ReceiveSpec& spec, const json& body,
                                      const std::string& own_prefix) {
    std::vector<std::pair<const ChangeSpec*, const char*>> changes;
    if (spec.edit)
        changes.emplace_back(&*spec.edit, "edit");
    if (spec.retract)
        changes.emplace_back(&*spec.retract, "retraction");
    std::vector<std::string> sources{spec.events};
    for (const auto& [change, kind] : changes)
        if (std::ranges::find(sources, change->events) == sources.end())
            sources.push_back(change->events);

    std::vector<EventReading> readings;
    for (const std::string& source : sources) {
        for (const json* event : events_at(body, source)) {
            std::optional<EventReading> reading;
            bool is_change = false;
            for (const auto& [change, kind] : changes) {
                if (change->events == source && all_match(*event, change->only)) {
                    is_change = true;
                    reading = read_change(*event, *change, kind);
                    break;
                }
            }
            if (!is_change && source == spec.events)
                reading = read_message(*event, spec);
            if (!reading || reading->channel.empty() ||
                (!own_prefix.empty() && reading->sender.starts_with(own_prefix)))
                continue;
            readings.push_back(std::move(*reading));
        }
    }
    return readings;
}

} // namespace

ServiceReading messages_from(const ReceiveSpec& spec, const store::MappingSnapshot& snapshot,
                             const store::Connector& connector, const json& body, const std::string& id,
                             Logger& logger) {
    ServiceReading out;
    const std::string own_prefix = spec.skip_sender_prefix_setting.empty()
                                       ? std::string()
                                       : setting(connector, spec.skip_sender_prefix_setting);
    const std::vector<EventReading> readings = read_events(spec, body, own_prefix);
    std::size_t unmapped = 0;
    for (const EventReading& event : readings) {
        std::vector<const store::Mapping*> takers = snapshot.inbound(connector.name, event.channel);
        for (const store::Mapping* m : snapshot.inbound_of(connector.name))
            if (m->remote_address == "*")
                takers.push_back(m);
        if (takers.empty()) {
            ++unmapped;
            logger.info("webhook " + connector.name + ": no mapping takes channel " + event.channel +
                        "; its message is acknowledged and not bridged");
            continue;
        }
        for (const store::Mapping* mapping : takers) {
            Message message;
            message.kind = event.kind;
            message.source = connector.name;
            message.source_id = event.message_id.empty() ? id : event.message_id;
            message.from = event.sender;
            message.sender_name = event.sender_name;
            message.to = mapping->xmpp_address;
            message.channel = event.channel;
            message.text = event.marked_up ? xmpp_text(event.text, spec.format) : event.text;
            message.refers_to = event.refers_to;
            message.timestamp = utc_timestamp();
            out.entries.push_back({connector.id, store::inbound_conversation(mapping->id),
                                   mapping->xmpp_address, to_json(message)});
        }
    }
    out.answer_after_commit.body = spec.reply.dump();
    if (out.entries.empty()) {
        out.summary = unmapped > 0 ? "only unmapped channels" : "nothing to bridge";
        return out;
    }
    if (!id.empty() && id.size() <= 512)
        out.source = SourceKey{connector.id, "event:" + id,
                               std::chrono::duration_cast<std::chrono::seconds>(redelivery_window)};
    out.summary = std::to_string(out.entries.size()) + " message(s)" + (id.empty() ? "" : " of " + id);
    return out;
}

ServiceReading read_service_request(const ReceiveSpec& spec, const store::MappingSnapshot& snapshot,
                                    const store::Connector& connector, const http::Request& request,
                                    std::string_view subpath, std::chrono::system_clock::time_point now,
                                    Logger& logger) {
    ServiceReading out;
    const auto refuse = [&out](http::Response response) {
        out.answer_now = std::move(response);
        return std::move(out);
    };
    if (request.method != spec.method) {
        http::Response refused = json_error(405, "this hook takes " + spec.method);
        refused.headers.emplace_back("Allow", spec.method);
        return refuse(std::move(refused));
    }
    const bool transaction_path = spec.id == "path";
    if (transaction_path != !subpath.empty())
        return refuse(json_error(404, transaction_path ? "this hook takes PUT …/transactions/<txnId>"
                                                       : "no such path under this hook"));
    json body;
    if (spec.content == "form") {
        const std::string_view type = request.header("content-type");
        std::optional<json> fields;
        if (type.starts_with("application/json")) {
            try {
                fields = text::parse_json(request.body);
            } catch (const text::JsonInputError&) {
            }
        } else {
            fields = form_fields(request.body);
        }
        if (!fields || !fields->is_object())
            return refuse(json_error(400, "the body is neither form fields nor a JSON object"));
        body = std::move(*fields);
    } else {
        try {
            body = text::parse_json(request.body);
        } catch (const text::JsonInputError& e) {
            // The signature check needs the raw body only; a refusal for bad JSON must not reveal a bad
            // token.
            if (auto refused = verify(spec.verify, connector, request, json::object(), now))
                return refuse(std::move(*refused));
            return refuse(json_error(400, std::string("the body is not JSON: ") + e.what()));
        }
        if (!body.is_object())
            return refuse(json_error(400, "the body is not a JSON object"));
    }
    if (auto refused = verify(spec.verify, connector, request, body, now))
        return refuse(std::move(*refused));

    const json challenge_if = spec.challenge.value("if", json::object());
    if (!challenge_if.empty() && all_match(body, challenge_if)) {
        json reply = json::object();
        const json reply_spec = spec.challenge.value("reply", json::object());
        for (const auto& [key, pointer] : reply_spec.items())
            reply[key] = text_at(body, pointer.get<std::string>());
        http::Response answer;
        answer.body = reply.dump();
        out.summary = "verification challenge answered";
        return refuse(std::move(answer));
    }

    const std::string id =
        transaction_path ? std::string(subpath.substr(subpath.rfind('/') + 1)) : text_at(body, spec.id);
    ServiceReading read = messages_from(spec, snapshot, connector, body, id, logger);
    if (read.entries.empty()) {
        http::Response answer;
        answer.body = spec.reply.dump();
        read.answer_now = std::move(answer);
    }
    return read;
}

} // namespace ferry::connectors::rest
