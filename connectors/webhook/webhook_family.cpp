#include "connectors/webhook/webhook_family.hpp"

#include "bridge/core/message.hpp"
#include "bridge/core/token_hooks.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/text/log_text.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/formats/json_text.hpp"
#include "connectors/formats/template.hpp"

#include <cctype>

namespace ferry::connectors::webhook {

using core::HookReading;

namespace {

std::string setting(const store::Connector& connector, std::string_view name) {
    return store::text_setting(connector.settings, name);
}

/// The message's text: the connector's template written from the body, or the text at its JSON Pointer.
std::variant<std::string, HookReading> text_of(const store::Connector& connector,
                                               const nlohmann::json& body) {
    if (const std::string source = setting(connector, "template"); !source.empty()) {
        std::string text;
        try {
            text = formats::Template(source).render(body);
        } catch (const formats::TemplateError& e) {
            return core::refused_reading(500, std::string("the connector's template does not compile: ") +
                                                  e.what());
        }
        if (text.find_first_not_of(" \t\r\n") == std::string::npos)
            return core::refused_reading(400, "the connector's template makes no text of this body");
        return text;
    }
    const std::string pointer = setting(connector, "text").empty() ? "/text" : setting(connector, "text");
    std::optional<std::string> text = formats::text_at(body, pointer);
    if (!text || text->empty())
        return core::refused_reading(400, "the body has no text at " + pointer);
    return *text;
}

/// The text (and optionally the sender and the target) picked from the body as the settings say.
HookReading read_json(const core::HookCall& call, const nlohmann::json& body) {
    const store::Connector& connector = call.connector;
    auto text = text_of(connector, body);
    if (auto* refusal = std::get_if<HookReading>(&text))
        return std::move(*refusal);
    std::optional<std::string> target;
    if (const std::string pointer = setting(connector, "target"); !pointer.empty()) {
        target = formats::text_at(body, pointer);
        if (!target)
            return core::refused_reading(400, "the body has no target at " + pointer);
    }
    std::optional<std::string> sender;
    if (const std::string pointer = setting(connector, "sender"); !pointer.empty())
        sender = formats::text_at(body, pointer);
    core::Arrival arrival;
    for (const store::Mapping* mapping : call.snapshot.inbound_of(connector.name)) {
        if (mapping->remote_address != "*" && (!target || mapping->remote_address != *target))
            continue;
        core::Message message;
        message.source = connector.name;
        message.from = sender.value_or("");
        message.to = mapping->xmpp_address;
        message.text = std::get<std::string>(text);
        message.timestamp = core::utc_timestamp();
        arrival.entries.push_back({connector.id, store::inbound_conversation(mapping->id),
                                   mapping->xmpp_address, to_json(message)});
    }
    if (arrival.entries.empty())
        return core::refused_reading(
            422, "no mapping of \"" + connector.name + "\" takes " +
                     (target ? "target \"" + *target + "\"" : std::string("this message")) +
                     "; add one with: ferry mapping add --xmpp JID --connector " + connector.name +
                     " --remote '*' --direction in");
    if (const std::string header = setting(connector, "id_header"); !header.empty()) {
        std::string name = header;
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const std::string_view id = call.request.header(name); !id.empty() && id.size() <= 512)
            arrival.source = core::SourceKey{connector.id, "delivery:" + std::string(id), std::nullopt};
    }
    arrival.summary =
        "message" + (arrival.source ? " " + text::quoted(arrival.source->source_id) : std::string());
    return core::accepted_reading(std::move(arrival));
}

class RunningWebhook final : public core::RunningFamily {
public:
    explicit RunningWebhook(core::Logger& logger) : logger_(logger) {}

    HookReading read_hook(const core::HookCall& call) override {
        return core::read_token_hook(call, logger_,
                                     [&](const nlohmann::json& body) { return read_json(call, body); });
    }

private:
    core::Logger& logger_;
};

void check_settings(const nlohmann::json& settings) {
    for (const char* pointer : {"text", "sender", "target"}) {
        if (!settings.contains(pointer))
            continue;
        const std::string value = store::text_setting(settings, pointer);
        try {
            if (value.empty())
                throw std::invalid_argument("empty");
            nlohmann::json::json_pointer checked(value);
        } catch (const std::exception&) {
            throw std::invalid_argument(std::string(pointer) +
                                        " is a JSON Pointer such as /message/text (RFC 6901), not \"" +
                                        text::printable(value) + "\"");
        }
    }
    if (settings.contains("template")) {
        if (settings.contains("text"))
            throw std::invalid_argument("text and template are two ways to say the message text: set one");
        try {
            formats::Template checked(store::text_setting(settings, "template"));
        } catch (const formats::TemplateError& e) {
            throw std::invalid_argument(std::string("template: ") + e.what());
        }
    }
}

void check_mapping(std::string_view /*xmpp*/, std::string_view direction, std::string_view /*remote*/) {
    if (direction != "in")
        throw std::invalid_argument("a webhook connector only receives messages: use --direction in");
}

core::KindSpec webhook_kind() {
    core::KindSpec kind{
        "webhook",
        "any JSON POSTed to /hooks/NAME, its text picked by JSON Pointer or written by a template",
        {core::token_setting(),
         {"secret", false, true, "", "GitHub-style X-Hub-Signature-256 (HMAC-SHA256 of the body)"},
         {"text", false, false, "/text", "JSON Pointer to the text"},
         {"template", false, false, "", "the text written from the body's fields (instead of text)"},
         {"sender", false, false, "", "JSON Pointer to the sender's name"},
         {"target", false, false, "", "JSON Pointer to the value mappings' remote address match"},
         {"id_header", false, false, "", "header holding a delivery id (a resend is a duplicate)"},
         core::auth_setting()},
        true,
        false,
        {"token", "secret"},
        {},
        {}};
    kind.check_settings = check_settings;
    kind.check_mapping = check_mapping;
    return kind;
}

} // namespace

const std::vector<core::KindSpec>& WebhookFamily::kinds() const {
    static const std::vector<core::KindSpec> kinds = {webhook_kind()};
    return kinds;
}

std::unique_ptr<core::RunningFamily> WebhookFamily::start(const core::FamilyContext& context) const {
    return std::make_unique<RunningWebhook>(context.logger);
}

} // namespace ferry::connectors::webhook
