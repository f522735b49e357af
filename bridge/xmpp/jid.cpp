#include "bridge/xmpp/jid.hpp"

#include "bridge/text/utf8.hpp"

#include <arpa/inet.h>
#include <array>
#include <netinet/in.h>
#include <ostream>
#include <stdexcept>
#include <sys/socket.h>
#include <utility>

namespace ferry::xmpp {

namespace {

using Reason = std::optional<std::string>;

using text::decode_utf8;

bool is_control(char32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

// Unicode White_Space characters that are not controls (Zs plus the line and paragraph separators).
bool is_space(char32_t c) {
    return c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

constexpr bool is_ascii_alnum(char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string quoted(char32_t c) {
    return std::string("'") + static_cast<char>(c) + "'";
}

// Checks shared by every part, then `each` on every code point; no allocation on success.
template <class Each> Reason check_part(std::string_view part, std::string_view name, Each each) {
    if (part.empty())
        return "empty " + std::string(name);
    if (part.size() > Jid::max_part_bytes)
        return std::string(name) + " longer than " + std::to_string(Jid::max_part_bytes) + " bytes";
    for (std::size_t pos = 0; pos < part.size();) {
        const auto c = decode_utf8(part, pos);
        if (!c)
            return "invalid UTF-8 in " + std::string(name);
        if (is_control(*c))
            return "control character in " + std::string(name);
        if (auto reason = each(*c))
            return reason;
    }
    return std::nullopt;
}

// Byte classes for the pure-ASCII fast path: bit 1 allowed in a localpart, bit 2 in a domainpart, bit 4 in a
// resourcepart.
constexpr std::array<unsigned char, 128> ascii_class = [] {
    std::array<unsigned char, 128> t{};
    for (int c = 0x20; c < 0x7f; ++c)
        t[c] = 4;
    for (int c = 0x21; c < 0x7f; ++c)
        t[c] |= 1;
    for (char c : std::string_view("\"&'/:<>@"))
        t[static_cast<unsigned char>(c)] &= ~1;
    for (int c = 0; c < 128; ++c)
        if (is_ascii_alnum(c) || c == '-' || c == '.' || c == '_')
            t[c] |= 2;
    return t;
}();

/// True when `part` is non-empty, short enough, pure ASCII and every byte has `bit`: then it is valid as far
/// as the per-character rules go.
bool ascii_ok(std::string_view part, unsigned char bit) {
    if (part.empty() || part.size() > Jid::max_part_bytes)
        return false;
    for (const char ch : part) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80 || (ascii_class[c] & bit) == 0)
            return false;
    }
    return true;
}

Reason check_local(std::string_view local) {
    if (ascii_ok(local, 1))
        return std::nullopt;
    return check_part(local, "localpart", [](char32_t c) -> Reason {
        if (is_space(c))
            return "whitespace in localpart";
        if (std::u32string_view(U"\"&'/:<>@").find(c) != std::u32string_view::npos)
            return "forbidden character " + quoted(c) + " in localpart";
        return std::nullopt;
    });
}

Reason check_domain(std::string_view domain) {
    const bool literal = !domain.empty() && domain.front() == '[';
    if (!literal && ascii_ok(domain, 2)) {
        if (domain.front() == '.' || domain.back() == '.')
            return "domainpart begins or ends with a dot";
        if (domain.find("..") != std::string_view::npos)
            return "empty label in domainpart";
        return std::nullopt;
    }
    if (auto reason = check_part(domain, "domainpart", [literal](char32_t c) -> Reason {
            if (literal)
                return std::nullopt;
            if (is_space(c))
                return "whitespace in domainpart";
            if (c < 0x80 && !is_ascii_alnum(c) && c != '-' && c != '.' && c != '_')
                return "forbidden character " + quoted(c) + " in domainpart";
            return std::nullopt;
        }))
        return reason;
    if (literal) {
        struct in6_addr address {};
        const std::string inner(domain.substr(1, domain.size() - 1 - (domain.back() == ']' ? 1 : 0)));
        if (domain.back() != ']' || inet_pton(AF_INET6, inner.c_str(), &address) != 1)
            return "invalid IPv6 literal in domainpart";
        return std::nullopt;
    }
    if (domain.front() == '.' || domain.back() == '.')
        return "domainpart begins or ends with a dot";
    if (domain.find("..") != std::string_view::npos)
        return "empty label in domainpart";
    return std::nullopt;
}

// XEP-0106 escapes, in the order of the spec's table.
constexpr std::array<std::pair<char, std::string_view>, 10> escapes{{
    {' ', "20"},
    {'"', "22"},
    {'&', "26"},
    {'\'', "27"},
    {'/', "2f"},
    {':', "3a"},
    {'<', "3c"},
    {'>', "3e"},
    {'@', "40"},
    {'\\', "5c"},
}};

std::optional<std::string_view> code_for(char c) {
    for (const auto& [character, code] : escapes) {
        if (character == c)
            return code;
    }
    return std::nullopt;
}

// The character escaped by the two hex digits at the start of `text`, if they form one of the ten codes.
std::optional<char> character_for(std::string_view text) {
    for (const auto& [character, code] : escapes) {
        if (text.starts_with(code))
            return character;
    }
    return std::nullopt;
}

} // namespace

Jid::Jid(std::string local, std::string domain, std::string resource)
    : local_(std::move(local)), domain_(std::move(domain)), resource_(std::move(resource)) {}

std::variant<Jid, std::string> Jid::make(std::optional<std::string_view> local, std::string_view domain,
                                         std::optional<std::string_view> resource) {
    if (local) {
        if (auto reason = check_local(*local))
            return std::move(*reason);
    }
    if (domain.ends_with('.'))
        domain.remove_suffix(1);
    if (auto reason = check_domain(domain))
        return std::move(*reason);
    if (resource && !ascii_ok(*resource, 4)) {
        if (auto reason =
                check_part(*resource, "resourcepart", [](char32_t) -> Reason { return std::nullopt; }))
            return std::move(*reason);
    }
    return Jid(text::ascii_lowercase(local.value_or("")), text::ascii_lowercase(domain),
               std::string(resource.value_or("")));
}

std::variant<Jid, std::string> Jid::parse_or_reason(std::string_view text) {
    std::optional<std::string_view> resource;
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        resource = text.substr(slash + 1);
        text = text.substr(0, slash);
    }
    std::optional<std::string_view> local;
    if (const auto at = text.find('@'); at != std::string_view::npos) {
        local = text.substr(0, at);
        text = text.substr(at + 1);
    }
    return make(local, text, resource);
}

std::optional<Jid> Jid::parse(std::string_view text) {
    auto result = parse_or_reason(text);
    if (auto* jid = std::get_if<Jid>(&result))
        return std::move(*jid);
    return std::nullopt;
}

std::optional<Jid> Jid::from_parts(std::string_view local, std::string_view domain,
                                   std::string_view resource) {
    auto result = make(local.empty() ? std::nullopt : std::optional(local), domain,
                       resource.empty() ? std::nullopt : std::optional(resource));
    if (auto* jid = std::get_if<Jid>(&result))
        return std::move(*jid);
    return std::nullopt;
}

std::string Jid::bare_string() const {
    return local_.empty() ? domain_ : local_ + '@' + domain_;
}

std::string Jid::full() const {
    return resource_.empty() ? bare_string() : bare_string() + '/' + resource_;
}

std::ostream& operator<<(std::ostream& out, const Jid& jid) {
    return out << jid.full();
}

std::string escape_node(std::string_view raw) {
    if (raw.starts_with(' ') || raw.ends_with(' '))
        throw std::invalid_argument("XEP-0106: a node must not begin or end with a space");
    std::string escaped;
    escaped.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        const bool escape =
            c == '\\' ? character_for(raw.substr(i + 1)).has_value() : code_for(c).has_value();
        if (escape) {
            escaped += '\\';
            escaped += *code_for(c);
        } else {
            escaped += c;
        }
    }
    return escaped;
}

std::string unescape_node(std::string_view escaped) {
    std::string raw;
    raw.reserve(escaped.size());
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        const auto character = escaped[i] == '\\' ? character_for(escaped.substr(i + 1)) : std::nullopt;
        if (character) {
            raw += *character;
            i += 2;
        } else {
            raw += escaped[i];
        }
    }
    return raw;
}

} // namespace ferry::xmpp

std::size_t std::hash<ferry::xmpp::Jid>::operator()(const ferry::xmpp::Jid& jid) const noexcept {
    const std::hash<std::string> hash;
    std::size_t seed = hash(jid.local());
    for (const std::string* part : {&jid.domain(), &jid.resource()})
        seed ^= hash(*part) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    return seed;
}
