#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::formats {

/// A template that cannot be compiled; the message names the problem and its offset.
class TemplateError : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// How an inserted value is written. The XMPP text goes through these so that remote text never becomes
/// markup on the other side (a `<!channel>` typed in XMPP reaches Slack as text, not as a mention).
enum class Escape {
    plain,    ///< as it is
    mrkdwn,   ///< Slack: XEP-0393 styling becomes mrkdwn; &, <, > escaped
    markdown, ///< Mattermost, Rocket.Chat, Discord: styling becomes Markdown; other Markdown escaped
    html,     ///< Matrix formatted_body: styling becomes tags, line breaks <br>; &, <, >, " escaped
    telegram, ///< Telegram parse_mode HTML: its tag subset, line breaks stay newlines; &, <, > escaped
    url,      ///< one URL path segment or query value, percent-encoded
};

/// Parses "plain", "mrkdwn", "markdown", "html", "telegram" or "url"; throws TemplateError otherwise.
Escape parse_escape(std::string_view name);

/// A small, safe template language for request bodies, URLs and message texts. It can read values and
/// branch and loop over them, nothing else: no code, no file or network access, no unbounded output.
///
///   {{path}}                     the value at a dotted path (`message.from`, `alerts.0.labels.severity`),
///                                written with the template's escape; a missing value writes nothing
///   {{path | plain}}             … with another escape (plain, mrkdwn, markdown, html, url)
///   {{#if path}}…{{else}}…{{/if}} a branch: taken when the value is present and not false, 0, "" or empty
///   {{#unless path}}…{{/unless}} the opposite
///   {{#each path}}…{{/each}}     once per element of an array (or value of an object); inside, paths
///                                resolve against the element first (`{{.}}` is the element itself,
///                                `{{@index}}` its position), then outwards
class Template {
public:
    /// Compiles `source`; throws TemplateError for unbalanced or unknown tags.
    explicit Template(std::string_view source, Escape escape = Escape::plain);
    ~Template();
    Template(const Template&);
    Template& operator=(const Template&);
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;

    /// Renders against `context`.
    std::string render(const nlohmann::json& context) const;
    /// True when the source is a single `{{path}}` tag with no text around it (its value can keep its JSON
    /// type when it fills a JSON body).
    bool single_value() const;
    /// The value a single-tag template refers to (null when missing); only for single_value() templates.
    nlohmann::json value(const nlohmann::json& context) const;

    struct Node;

private:
    std::vector<Node> nodes_;
    Escape escape_;
};

/// A JSON document whose strings (keys excepted) are Templates, compiled once; see render_json.
class JsonTemplate {
public:
    /// Compiles every string of `body` with `escape`; throws TemplateError.
    JsonTemplate(const nlohmann::json& body, Escape escape);
    ~JsonTemplate();
    JsonTemplate(JsonTemplate&&) noexcept;
    JsonTemplate& operator=(JsonTemplate&&) noexcept;

    nlohmann::json render(const nlohmann::json& context) const;

    struct Node;

private:
    std::unique_ptr<Node> root_;
};

/// Every string in `body` (keys excepted) is a Template with `escape`; rendering gives the JSON to send.
/// A string that is exactly one `{{path}}` keeps the value's JSON type (numbers stay numbers); a value that
/// renders to null, an empty string or an empty object removes its object member, so optional fields
/// disappear.
nlohmann::json render_json(const nlohmann::json& body, const nlohmann::json& context, Escape escape);
/// Compiles every string of `body`, throwing TemplateError naming the first that does not compile.
void check_json_template(const nlohmann::json& body);

} // namespace ferry::formats
