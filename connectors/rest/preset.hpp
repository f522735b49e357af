#pragma once

#include "bridge/core/family.hpp"
#include "connectors/formats/template.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors::rest {

using formats::check_json_template;
using formats::Escape;
using formats::parse_escape;
using formats::TemplateError;

/// A preset file that does not describe a service; the message names the file and the problem.
class PresetError : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

using SettingSpec = core::SettingSpec;

/// Where a Retry-After figure is found in a rate-limit answer, and its unit.
struct RetryAfterSource {
    std::string header;                  ///< a response header (lowercase), or
    std::string pointer;                 ///< a JSON Pointer into the answer's body
    double milliseconds_per_unit = 1000; ///< 1000 for seconds, 1 for milliseconds
};

/// How a message is sent: one HTTP request built from templates, and how its answer is read.
struct SendSpec {
    std::string method = "POST";
    std::string url;                                   ///< a template
    nlohmann::json headers;                            ///< name → template
    nlohmann::json body;                               ///< a JSON template (see render_json)
    Escape format = Escape::plain;                     ///< the escape of every value inserted into the body
    nlohmann::json ok_when = nlohmann::json::object(); ///< pointer → value a 2xx answer must have
    std::string error_at;                              ///< pointer to the service's error text in an answer
    std::vector<std::string> transient_errors; ///< error texts that mean "try again" despite a 2xx/4xx
    std::string remote_id; ///< pointer to the id of the posted message, if the service gives one
    std::vector<RetryAfterSource> retry_after;
    int pace_ms = 0; ///< least time between two messages to one destination
    /// Replies are posted into a thread that only its first message can name (Slack's thread_ts): a reply
    /// to a message inside a thread goes to the thread's first message.
    bool threads = false;
};

/// How an inbound request is verified.
struct VerifySpec {
    std::string scheme;  ///< "slack_v0", "token_field", "bearer", "header", "none"
    std::string setting; ///< the connector setting holding the secret
    std::string where;   ///< token_field: pointer to the token; header: the header's name (lowercase)
};

/// Long polling, for services that can hand out what a webhook would have received (Telegram getUpdates):
/// Ferry asks with the cursor after the last result it committed, so results are confirmed only once they
/// are durable.
struct PollSpec {
    std::string enabled_by; ///< the setting that turns polling on (`poll=yes`)
    std::string method = "POST";
    std::string url;     ///< a template; reads `settings.*`
    nlohmann::json body; ///< a JSON template; reads `settings.*`, `offset` (null at first), `wait`
    nlohmann::json ok_when = nlohmann::json::object();
    std::string error_at;
    std::string results; ///< pointer to the array of results, each read like one webhook body
    std::string cursor;  ///< pointer in a result to its number; the next poll asks from max + 1
    int wait_s = 25;     ///< how long the service may hold a poll open
};

/// How an event that changes an earlier message (an edit, a deletion) is recognised and read. Pointers are
/// into the event; those left out are the message's (`events`, `channel`, `sender`, `sender_name`).
struct ChangeSpec {
    std::string events;                             ///< pointer to the event(s); default: the messages'
    nlohmann::json only = nlohmann::json::object(); ///< event pointer → value: what makes it this change
    std::vector<std::string> skip_if_present;       ///< a bot's change (often Ferry's own) is not bridged
    std::string channel;
    std::string sender;
    std::string sender_name;
    std::string text;                   ///< edits: the new text
    std::string entities;               ///< edits: the new text's formatting entities (see ReceiveSpec)
    std::vector<std::string> refers_to; ///< the id of the changed message: the first pointer present
    std::string previous_text;          ///< edits: unchanged text (a link preview added) is no edit
    nlohmann::json format_when;         ///< edits: when the new text is marked up (default: the message's)
};

/// How Ferry asks the service for a sender's display name (Slack users.info, a Matrix profile), when its
/// events carry only an id.
struct ProfileSpec {
    std::string method = "GET";
    std::string url;                                   ///< a template; reads `settings.*` and `sender`
    nlohmann::json headers = nlohmann::json::object(); ///< name → template
    nlohmann::json ok_when = nlohmann::json::object();
    std::vector<std::string> name; ///< pointers into the answer, tried in order: the first non-empty text
};

/// How an inbound request (the service calling Ferry) becomes messages.
struct ReceiveSpec {
    VerifySpec verify;
    std::string method = "POST";
    std::string content = "json"; ///< "json", or "form" (application/x-www-form-urlencoded)
    nlohmann::json challenge =
        nlohmann::json::object(); ///< {"if": {pointer: value}, "reply": {key: pointer}}
    std::string events;           ///< pointer to the event (object) or events (array); "" = root
    nlohmann::json only = nlohmann::json::object(); ///< event pointer → value every taken event has
    std::vector<std::string> skip_if_present;       ///< event pointers: an event with any is not a message
    std::string skip_sender_prefix_setting;         ///< a setting: senders starting with it are our own
    std::string id;          ///< root pointer to the delivery id (dedup); "path" = the last path segment
    std::string channel;     ///< event pointer: the remote address mappings are matched against
    std::string sender;      ///< event pointer: the sender's id
    std::string sender_name; ///< event pointer: the sender's display name (optional)
    std::string text;        ///< event pointer
    std::string entities;    ///< event pointer to formatting ranges beside the text (Telegram's entities)
    std::string message_id;  ///< event pointer: the message's own id (what later changes name)
    std::string reply_to;    ///< event pointer: the id of the message this one answers (a thread)
    bool strip_reply_quote = false; ///< a reply starts with the answered text as "> " lines: cut them
    std::optional<ChangeSpec> edit;
    std::optional<ChangeSpec> retract;
    std::string format = "plain"; ///< "mrkdwn", "markdown" or "plain": how the text is marked up
    nlohmann::json format_when = nlohmann::json::object(); ///< event pointer → value: else the text is plain
    nlohmann::json reply = nlohmann::json::object();       ///< the JSON answered when messages are taken
    std::optional<PollSpec> poll;       ///< fetching instead of being called (setups without a URL)
    std::optional<ProfileSpec> profile; ///< display names for senders the events name by id only
};

/// A JSON-over-HTTP service described as data (connectors/rest/presets/<kind>.json).
struct Preset {
    std::string kind;
    std::string title;
    std::vector<SettingSpec> settings;
    std::optional<SendSpec> send;
    std::optional<SendSpec> edit;    ///< a correction of a sent message (reads `remote_id`)
    std::optional<SendSpec> retract; ///< a retraction of a sent message (reads `remote_id`)
    std::optional<ReceiveSpec> receive;

    /// Reads a preset document; throws PresetError naming what is wrong (templates are compiled here).
    static Preset parse(const nlohmann::json& document);
    /// The setting named `name`, or null.
    const SettingSpec* setting(std::string_view name) const;
    /// A connector's settings with this preset's defaults filled in (what templates read as `settings.*`).
    nlohmann::json with_defaults(const nlohmann::json& given) const;
};

/// The settings every preset-based connector takes besides its own: allow_private (yes/no: may reach
/// loopback and private addresses), pace_ms, timeout_ms.
const std::vector<SettingSpec>& common_settings();

/// The presets built into this binary, by kind.
const std::vector<Preset>& builtin_presets();
/// The built-in preset of `kind`, or null.
const Preset* find_preset(std::string_view kind);

} // namespace ferry::connectors::rest
