#pragma once

#include "connectors/email/mail_address.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// The tokens that lead mail back to the message Ferry sent: its Message-ID (`ferry.<token>@<mail domain>`),
/// which replies name in In-Reply-To and References, and its return path (`bounces+<token>@<mail domain>`),
/// where delivery reports arrive. A token is the message's outbox key (a UUID, the message_map key) and an
/// HMAC of it under a key derived from the component secret, so that nobody can make up a token for a
/// message they did not receive: a forged bounce or reply cannot reach someone else's chat.
class MailTokens {
public:
    MailTokens(std::string_view secret, std::string_view connector_name);

    /// 48 lowercase hex digits: the key's 32 and 16 of the HMAC. `message_key` is a UUID.
    std::string token(std::string_view message_key) const;
    /// The message key (a UUID, with its dashes) a token names, when its HMAC is right.
    std::optional<std::string> message_key(std::string_view token) const;

    std::string message_id(std::string_view message_key, std::string_view mail_domain) const;
    std::string return_path(std::string_view message_key, std::string_view mail_domain) const;
    /// The message key of one of Ferry's Message-IDs (with or without its angle brackets), whatever the
    /// domain; nullopt for any other id.
    std::optional<std::string> key_of_message_id(std::string_view message_id) const;
    /// The message key of one of Ferry's return paths; nullopt for any other address.
    std::optional<std::string> key_of_return_path(const MailAddress& address) const;
    /// True for an address of a return path's form (`bounces+…`), whether its token is genuine or not: such
    /// local parts of the mail domain are Ferry's, never a user's.
    static bool has_return_path_form(const MailAddress& address);

private:
    std::string key_;
};

} // namespace ferry::connectors::email
