#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ferry::connectors::email {

/// A mailbox as SMTP carries it (RFC 5321 section 4.1.2): a dot-atom local part and a host name. Quoted local
/// parts, address literals and non-ASCII addresses (SMTPUTF8) are not taken: Ferry neither sends to them nor
/// shows them in XMPP.
struct MailAddress {
    std::string local;  ///< as written (mail systems may treat case in it as significant)
    std::string domain; ///< lowercased

    std::string text() const { return local + "@" + domain; }
    /// The address in one case, as Ferry compares addresses (local parts are case-blind in practice).
    std::string key() const;
    bool operator==(const MailAddress&) const = default;
};

/// Parses `local@domain`, or says in a phrase why it is not an address Ferry takes.
std::variant<MailAddress, std::string> parse_mail_address_or_reason(std::string_view text);
std::optional<MailAddress> parse_mail_address(std::string_view text);
/// True for a host name of letters, digits and hyphens in dot-separated labels (RFC 5321 `Domain`).
bool is_mail_domain(std::string_view domain);

} // namespace ferry::connectors::email
