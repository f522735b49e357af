#include "connectors/email/mail_address.hpp"

#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::connectors::email {

namespace {

constexpr std::size_t max_local = 64;   // RFC 5321 section 4.5.3.1.1
constexpr std::size_t max_domain = 255; // section 4.5.3.1.2
constexpr std::size_t max_path = 254;   // 256 octets of a path, less its angle brackets

bool is_atext(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_string(std::string_view local) {
    if (local.empty() || local.front() == '.' || local.back() == '.' ||
        local.find("..") != std::string_view::npos)
        return false;
    return std::ranges::all_of(local, [](char c) { return c == '.' || is_atext(c); });
}

} // namespace

std::string MailAddress::key() const {
    return text::ascii_lowercase(local) + "@" + domain;
}

bool is_mail_domain(std::string_view domain) {
    if (domain.empty() || domain.size() > max_domain)
        return false;
    std::size_t start = 0;
    while (start <= domain.size()) {
        const std::size_t dot = std::min(domain.find('.', start), domain.size());
        const std::string_view label = domain.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        if (!std::ranges::all_of(
                label, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }))
            return false;
        start = dot + 1;
    }
    return true;
}

std::variant<MailAddress, std::string> parse_mail_address_or_reason(std::string_view text) {
    if (text.empty())
        return std::string("an empty address");
    if (std::ranges::any_of(text, [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        return std::string("non-ASCII mail addresses (SMTPUTF8) are not supported");
    if (text.size() > max_path)
        return std::string("longer than 254 characters");
    const std::size_t at = text.rfind('@');
    if (at == std::string_view::npos)
        return std::string("no @");
    const std::string_view local = text.substr(0, at);
    const std::string_view domain = text.substr(at + 1);
    if (local.starts_with('"'))
        return std::string("quoted local parts are not supported");
    if (local.size() > max_local)
        return std::string("a local part longer than 64 characters");
    if (!is_dot_string(local))
        return "\"" + text::printable(local) + "\" is not a local part of a mail address";
    if (domain.starts_with('['))
        return std::string("address literals are not supported: give a host name");
    if (!is_mail_domain(domain))
        return "\"" + text::printable(domain) + "\" is not a mail domain";
    return MailAddress{std::string(local), text::ascii_lowercase(domain)};
}

std::optional<MailAddress> parse_mail_address(std::string_view text) {
    auto parsed = parse_mail_address_or_reason(text);
    if (auto* address = std::get_if<MailAddress>(&parsed))
        return std::move(*address);
    return std::nullopt;
}

} // namespace ferry::connectors::email
