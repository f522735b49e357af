#include "connectors/email/mail_tokens.hpp"

#include "bridge/core/signatures.hpp"
#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::connectors::email {

namespace {

constexpr std::size_t key_digits = 32;
constexpr std::size_t mac_digits = 16;
constexpr std::string_view message_id_prefix = "ferry.";
constexpr std::string_view return_path_prefix = "bounces+";

bool is_hex(std::string_view text) {
    return std::ranges::all_of(text,
                               [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

} // namespace

MailTokens::MailTokens(std::string_view secret, std::string_view connector_name)
    : key_(core::hmac_sha256_hex(secret, "ferry mail tokens " + std::string(connector_name))) {}

std::string MailTokens::token(std::string_view message_key) const {
    std::string digits;
    for (char c : text::ascii_lowercase(message_key))
        if (c != '-')
            digits += c;
    return digits + core::hmac_sha256_hex(key_, digits).substr(0, mac_digits);
}

std::optional<std::string> MailTokens::message_key(std::string_view token) const {
    if (token.size() != key_digits + mac_digits || !is_hex(token))
        return std::nullopt;
    const std::string lower = text::ascii_lowercase(token);
    const std::string digits = lower.substr(0, key_digits);
    if (!core::same_secret(lower.substr(key_digits),
                           core::hmac_sha256_hex(key_, digits).substr(0, mac_digits)))
        return std::nullopt;
    return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" + digits.substr(12, 4) + "-" +
           digits.substr(16, 4) + "-" + digits.substr(20);
}

std::string MailTokens::message_id(std::string_view message_key, std::string_view mail_domain) const {
    return std::string(message_id_prefix) + token(message_key) + "@" + std::string(mail_domain);
}

std::string MailTokens::return_path(std::string_view message_key, std::string_view mail_domain) const {
    return std::string(return_path_prefix) + token(message_key) + "@" + std::string(mail_domain);
}

std::optional<std::string> MailTokens::key_of_message_id(std::string_view message_id) const {
    if (message_id.size() >= 2 && message_id.front() == '<' && message_id.back() == '>')
        message_id = message_id.substr(1, message_id.size() - 2);
    const std::size_t at = message_id.rfind('@');
    if (at == std::string_view::npos || !message_id.starts_with(message_id_prefix))
        return std::nullopt;
    return message_key(message_id.substr(message_id_prefix.size(), at - message_id_prefix.size()));
}

bool MailTokens::has_return_path_form(const MailAddress& address) {
    return text::ascii_lowercase(address.local).starts_with(return_path_prefix);
}

std::optional<std::string> MailTokens::key_of_return_path(const MailAddress& address) const {
    const std::string local = text::ascii_lowercase(address.local);
    if (!local.starts_with(return_path_prefix))
        return std::nullopt;
    return message_key(std::string_view(local).substr(return_path_prefix.size()));
}

} // namespace ferry::connectors::email
