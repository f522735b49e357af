#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ferry::core {

/// The canonical envelope every input becomes and every connector delivers.
struct Message {
    std::string kind = "message"; ///< message, edit, reply, retraction, alert, alert-resolved
    std::string source;           ///< "xmpp" or the connector name it came from
    std::string source_id;        ///< the id the source gave it (stanza id, event id, ...); may be empty
    std::string from;             ///< sender address in the source's terms (a full JID for XMPP)
    std::string sender_name; ///< how to show the sender (a room nick, a user's display name); may be empty
    std::string to;          ///< the address it was sent to, as the source addressed it
    std::string channel;     ///< a chat service's message: the channel it was said in (service terms)
    std::string room_id;     ///< a MUC message: the room's stanza-id (XEP-0359), which replies there may name
    std::string text;
    std::string subject;
    std::string thread;
    /// edit, reply, retraction: the source_id of the message it is about; a reply not said in a channel (a
    /// mail's) names the XMPP id of the message it answers, which its family found.
    std::string refers_to;
    std::string timestamp; ///< when Ferry accepted it, ISO 8601 UTC with milliseconds
    // Alerts: the firing and the resolved alerts the message lists, each as `<fingerprint>@<startsAt>` (one
    // episode of the alert), space-separated, and the short line that tells what resolved.
    std::string firing;
    std::string resolved;
    std::string resolution;

    bool operator==(const Message&) const = default;
};

/// Who wrote an XMPP message, as corrections and retractions must match it: the room occupant (`room/nick`)
/// in a room, the bare JID otherwise. Empty for messages from elsewhere.
std::string xmpp_author(const Message& message);

/// True for a message said in a channel of a remote conversation (a chat service's message; the family that
/// read it set `channel`): the ids it has there and in XMPP are kept in message_map, so that its replies,
/// corrections and retractions find it. False for notifications (alerts, webhooks), which are not answered
/// where they came from.
inline bool said_in_channel(const Message& message) {
    return !message.channel.empty();
}

nlohmann::json to_json(const Message& message);
/// Reads what to_json wrote; missing fields stay empty. Throws nlohmann::json::exception on wrong types.
Message message_from_json(const nlohmann::json& json);
/// The current time as ISO 8601 UTC with milliseconds ("2026-11-25T20:16:54.123Z").
std::string utc_timestamp();

} // namespace ferry::core
