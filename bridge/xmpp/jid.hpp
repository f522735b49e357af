#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ferry::xmpp {

/// An XMPP address (RFC 7622), `[localpart@]domainpart[/resourcepart]`; a Jid object is always valid.
///
/// Parsing splits on the first '/' (the resourcepart is everything after it and may hold '@' and '/'),
/// then the part before it on its first '@'. Each present part must be 1..1023 bytes of valid UTF-8
/// (no overlongs, surrogates or code points above U+10FFFF) without control characters (U+0000-U+001F,
/// U+007F-U+009F). The localpart also forbids `" & ' / : < > @` and whitespace. The domainpart loses one
/// trailing dot, must not begin or end with a dot nor contain "..", and is either an IPv6 literal such as
/// `[::1]` or a name whose ASCII characters are letters, digits, '-', '.' or '_' (non-ASCII labels pass).
/// DNS label lengths are not checked. The resourcepart allows spaces.
///
/// Full PRECIS (RFC 8264/8265) and IDNA2008 mapping needs libraries Ferry does not use: only ASCII letters
/// are lowercased, in the localpart and domainpart; all other characters pass through unchanged, so JIDs
/// that differ only in non-ASCII case or Unicode normalisation compare unequal.
class Jid {
public:
    /// Longest allowed localpart, domainpart or resourcepart, in bytes.
    static constexpr std::size_t max_part_bytes = 1023;

    /// Parses and validates `text`; nullopt when it is not a valid JID. Lowercases ASCII in local and domain.
    static std::optional<Jid> parse(std::string_view text);
    /// Like parse, but on failure holds a short English reason (e.g. "empty localpart") for logs and errors.
    static std::variant<Jid, std::string> parse_or_reason(std::string_view text);
    /// Builds a JID from separate parts with the same validation; an empty local or resource means absent.
    /// Use it rather than concatenation when a part may contain '@' or '/' (which then fails validation).
    static std::optional<Jid> from_parts(std::string_view local, std::string_view domain,
                                         std::string_view resource = {});

    /// The localpart, lowercased in ASCII; empty when absent.
    const std::string& local() const { return local_; }
    /// The domainpart, lowercased in ASCII, without a trailing dot; never empty.
    const std::string& domain() const { return domain_; }
    /// The resourcepart, unchanged; empty when absent.
    const std::string& resource() const { return resource_; }

    /// True when the JID has no resourcepart.
    bool is_bare() const { return resource_.empty(); }
    /// This JID without its resourcepart.
    Jid bare() const { return Jid(local_, domain_, {}); }
    /// "local@domain", or "domain" without a localpart.
    std::string bare_string() const;
    /// "local@domain/resource", leaving out the absent parts and their separators.
    std::string full() const;

    /// Compares the normalised parts byte by byte.
    bool operator==(const Jid&) const = default;
    /// Orders by localpart, then domainpart, then resourcepart (bytes); for use as an ordered-map key.
    std::strong_ordering operator<=>(const Jid&) const = default;

private:
    Jid(std::string local, std::string domain, std::string resource);
    static std::variant<Jid, std::string> make(std::optional<std::string_view> local, std::string_view domain,
                                               std::optional<std::string_view> resource);

    std::string local_;
    std::string domain_;
    std::string resource_;
};

/// Writes full() to `out` (also lets GoogleTest print a Jid).
std::ostream& operator<<(std::ostream& out, const Jid& jid);

/// XEP-0106 escaping of a raw node (localpart); escape_node("d'artagnan") == "d\\27artagnan".
/// Escapes space " & ' / : < > @ as \20 \22 \26 \27 \2f \3a \3c \3e \40, and a backslash as \5c only where it
/// would otherwise begin one of the ten escape sequences (lowercase hex, as in XEP-0106 1.1.1 §5.1).
/// Throws std::invalid_argument when `raw` begins or ends with a space: XEP-0106 §4.1 forbids \20 at either
/// end of an escaped node. Other bytes (including other whitespace, control characters or invalid UTF-8)
/// pass through unchanged; validate the result with Jid::from_parts.
std::string escape_node(std::string_view raw);

/// XEP-0106 unescaping: turns each of the ten lowercase sequences \20 ... \5c back into its character and
/// leaves everything else alone (partial, uppercase or unknown sequences, per §4.3); never throws.
/// unescape_node(escape_node(x)) == x for every x that escape_node accepts.
std::string unescape_node(std::string_view escaped);

} // namespace ferry::xmpp

/// Hashes the normalised parts, so equal JIDs hash equally; for unordered containers.
template <> struct std::hash<ferry::xmpp::Jid> {
    std::size_t operator()(const ferry::xmpp::Jid& jid) const noexcept;
};
