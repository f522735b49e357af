#include "bridge/xmpp/jid.hpp"

#include <array>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ferry::xmpp {
namespace {

using namespace std::string_literals;

std::string reason_for(std::string_view text) {
    auto result = Jid::parse_or_reason(text);
    if (const auto* reason = std::get_if<std::string>(&result))
        return *reason;
    return "(valid: " + std::get<Jid>(result).full() + ")";
}

TEST(Jid, ParsesDomainOnly) {
    const auto jid = Jid::parse("example.com");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "");
    EXPECT_TRUE(jid->is_bare());
}

TEST(Jid, ParsesBareJid) {
    const auto jid = Jid::parse("juliet@example.com");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "juliet");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "");
    EXPECT_TRUE(jid->is_bare());
}

TEST(Jid, ParsesFullJid) {
    const auto jid = Jid::parse("juliet@example.com/balcony");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "juliet");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "balcony");
    EXPECT_FALSE(jid->is_bare());
}

TEST(Jid, ParsesDomainWithResource) {
    const auto jid = Jid::parse("irc.example.com/gateway");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "");
    EXPECT_EQ(jid->domain(), "irc.example.com");
    EXPECT_EQ(jid->resource(), "gateway");
}

TEST(Jid, ParsesIpv6Literal) {
    const auto jid = Jid::parse("user@[::1]/res");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->domain(), "[::1]");
    const auto full = Jid::parse("[2001:DB8::A:1]");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->domain(), "[2001:db8::a:1]");
}

TEST(Jid, ParsesIpv4Address) {
    const auto jid = Jid::parse("user@192.0.2.7");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->domain(), "192.0.2.7");
}

TEST(Jid, RejectsMalformedIpv6Literal) {
    EXPECT_EQ(reason_for("user@[::1"), "invalid IPv6 literal in domainpart");
    EXPECT_EQ(reason_for("user@[not-an-ip]"), "invalid IPv6 literal in domainpart");
    EXPECT_EQ(reason_for("user@[]"), "invalid IPv6 literal in domainpart");
    EXPECT_EQ(reason_for("user@[127.0.0.1]"), "invalid IPv6 literal in domainpart");
    EXPECT_EQ(reason_for("user@::1"), "forbidden character ':' in domainpart");
}

TEST(Jid, ResourceMayContainSlashAndAt) {
    const auto jid = Jid::parse("user@example.com/a/b@c/d");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "user");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "a/b@c/d");
}

TEST(Jid, AtAfterFirstSlashBelongsToResource) {
    const auto jid = Jid::parse("example.com/user@host");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "user@host");
}

TEST(Jid, LocalpartEndsAtFirstAtSoSecondAtLandsInDomain) {
    EXPECT_FALSE(Jid::parse("user@host@example.com"));
    EXPECT_EQ(reason_for("user@host@example.com"), "forbidden character '@' in domainpart");
}

TEST(Jid, ResourceMayContainSpaces) {
    const auto jid = Jid::parse("user@example.com/  my phone ");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->resource(), "  my phone ");
}

TEST(Jid, RejectsEmptyParts) {
    EXPECT_EQ(reason_for(""), "empty domainpart");
    EXPECT_EQ(reason_for("@example.com"), "empty localpart");
    EXPECT_EQ(reason_for("user@example.com/"), "empty resourcepart");
    EXPECT_EQ(reason_for("example.com/"), "empty resourcepart");
    EXPECT_EQ(reason_for("user@"), "empty domainpart");
    EXPECT_EQ(reason_for("user@/res"), "empty domainpart");
    EXPECT_EQ(reason_for("/res"), "empty domainpart");
    EXPECT_EQ(reason_for("@"), "empty localpart");
    EXPECT_FALSE(Jid::parse("@example.com"));
    EXPECT_FALSE(Jid::parse("example.com/"));
    EXPECT_FALSE(Jid::parse(""));
}

TEST(Jid, AcceptsLocalpartOf1023BytesAndRejects1024) {
    const std::string ok(1023, 'a');
    const auto jid = Jid::parse(ok + "@example.com");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local().size(), 1023u);
    EXPECT_EQ(reason_for(ok + "a@example.com"), "localpart longer than 1023 bytes");
}

TEST(Jid, AcceptsDomainpartOf1023BytesAndRejects1024) {
    const std::string ok(1023, 'b');
    const auto jid = Jid::parse("user@" + ok);
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->domain().size(), 1023u);
    EXPECT_EQ(reason_for("user@" + ok + "b"), "domainpart longer than 1023 bytes");
    // The stripped trailing dot does not count.
    EXPECT_TRUE(Jid::parse("user@" + ok + "."));
}

TEST(Jid, AcceptsResourcepartOf1023BytesAndRejects1024) {
    const std::string ok(1023, 'c');
    const auto jid = Jid::parse("user@example.com/" + ok);
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->resource().size(), 1023u);
    EXPECT_EQ(reason_for("user@example.com/" + ok + "c"), "resourcepart longer than 1023 bytes");
}

TEST(Jid, CountsLengthInBytesNotCharacters) {
    // U+00E9 takes two bytes: 511 of them plus one ASCII byte is 1023 bytes, 512 of them is 1024.
    std::string two_byte;
    for (int i = 0; i < 511; ++i)
        two_byte += "\xc3\xa9";
    EXPECT_TRUE(Jid::parse(two_byte + "x@example.com"));
    EXPECT_EQ(reason_for(two_byte + "\xc3\xa9@example.com"), "localpart longer than 1023 bytes");
}

TEST(Jid, RejectsEachForbiddenLocalpartCharacter) {
    for (const char c : "\"&':<>"s) {
        const std::string text = "a"s + c + "b@example.com";
        EXPECT_EQ(reason_for(text), "forbidden character '"s + c + "' in localpart") << text;
    }
}

TEST(Jid, RejectsWhitespaceInLocalpart) {
    EXPECT_EQ(reason_for("space cadet@example.com"), "whitespace in localpart");
    EXPECT_EQ(reason_for("no\xc2\xa0"
                         "break@example.com"),
              "whitespace in localpart");
    EXPECT_EQ(reason_for("ideographic\xe3\x80\x80space@example.com"), "whitespace in localpart");
    EXPECT_EQ(reason_for("tab\there@example.com"), "control character in localpart");
}

TEST(Jid, FromPartsRejectsSlashAndAtInLocalpart) {
    EXPECT_FALSE(Jid::from_parts("a/b", "example.com"));
    EXPECT_FALSE(Jid::from_parts("a@b", "example.com"));
    EXPECT_FALSE(Jid::from_parts("a", "example.com/x"));
    EXPECT_FALSE(Jid::from_parts("a", "b@example.com"));
}

TEST(Jid, FromPartsBuildsNormalisedJid) {
    const auto jid = Jid::from_parts("D\\27Artagnan", "Musketeers.LIT.", "Elder/x@y");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->full(), "d\\27artagnan@musketeers.lit/Elder/x@y");
    EXPECT_EQ(*jid, *Jid::parse("d\\27artagnan@musketeers.lit/Elder/x@y"));
    const auto domain_only = Jid::from_parts("", "example.com");
    ASSERT_TRUE(domain_only);
    EXPECT_EQ(domain_only->full(), "example.com");
}

TEST(Jid, RejectsWhitespaceAndPunctuationInDomainpart) {
    EXPECT_EQ(reason_for("user@exa mple.com"), "whitespace in domainpart");
    EXPECT_EQ(reason_for("user@example.com\xe2\x80\x83"), "whitespace in domainpart");
    EXPECT_EQ(reason_for("user@example.com:5222"), "forbidden character ':' in domainpart");
    EXPECT_EQ(reason_for("user@exa\"mple.com"), "forbidden character '\"' in domainpart");
    EXPECT_TRUE(Jid::parse("user@my_host-1.example"));
}

TEST(Jid, RejectsEmptyLabelsInDomainpart) {
    EXPECT_EQ(reason_for("user@example..com"), "empty label in domainpart");
    EXPECT_EQ(reason_for("user@.example.com"), "domainpart begins or ends with a dot");
    EXPECT_EQ(reason_for("user@example.com.."), "domainpart begins or ends with a dot");
    EXPECT_EQ(reason_for("."), "empty domainpart");
    EXPECT_EQ(reason_for(".."), "domainpart begins or ends with a dot");
}

TEST(Jid, StripsOneTrailingDotFromDomainpart) {
    const auto jid = Jid::parse("user@example.com./res");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->full(), "user@example.com/res");
    EXPECT_EQ(*jid, *Jid::parse("user@example.com/res"));
}

TEST(Jid, AcceptsValidMultibyteUtf8) {
    const auto jid =
        Jid::parse("j\xc3\xbcrgen@m\xc3\xbcnchen.example/\xd1\x82\xd0\xb5\xd0\xbb \xf0\x9f\x93\xb1");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "j\xc3\xbcrgen");
    EXPECT_EQ(jid->domain(), "m\xc3\xbcnchen.example");
    EXPECT_EQ(jid->resource(), "\xd1\x82\xd0\xb5\xd0\xbb \xf0\x9f\x93\xb1");
    // Encoding boundaries U+00A0, U+07FF, U+0800, U+FFFF, U+10000 and U+10FFFF are well-formed.
    EXPECT_TRUE(Jid::parse("a@b/\xc2\xa0x\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
}

TEST(Jid, RejectsInvalidUtf8InEveryPart) {
    const std::vector<std::pair<std::string, const char*>> bad = {
        {"\xc0\xaf", "overlong 2-byte '/'"},       {"\xc1\xbf", "overlong 2-byte"},
        {"\xe0\x80\xaf", "overlong 3-byte"},       {"\xf0\x80\x80\xaf", "overlong 4-byte"},
        {"\xed\xa0\x80", "high surrogate U+D800"}, {"\xed\xbf\xbf", "low surrogate U+DFFF"},
        {"\xf4\x90\x80\x80", "U+110000"},          {"\xf5\x80\x80\x80", "lead byte F5"},
        {"\xf8\x88\x80\x80\x80", "5-byte form"},   {"\xff", "byte FF"},
        {"\x80", "lone continuation byte"},        {"\xc3", "truncated 2-byte at end"},
        {"\xe2\x82", "truncated 3-byte at end"},   {"\xc3x", "missing continuation"},
    };
    for (const auto& [bytes, what] : bad) {
        EXPECT_EQ(reason_for("a" + bytes + "@example.com"), "invalid UTF-8 in localpart") << what;
        EXPECT_EQ(reason_for("user@a" + bytes + ".example"), "invalid UTF-8 in domainpart") << what;
        EXPECT_EQ(reason_for("user@example.com/a" + bytes), "invalid UTF-8 in resourcepart") << what;
    }
}

TEST(Jid, RejectsControlCharactersInEveryPart) {
    const std::vector<std::string> controls = {"\0"s, "\x01", "\x1f", "\x7f", "\n", "\xc2\x85", "\xc2\x9f"};
    for (const auto& control : controls) {
        EXPECT_EQ(reason_for("a" + control + "b@example.com"), "control character in localpart");
        EXPECT_EQ(reason_for("user@a" + control + "b.example"), "control character in domainpart");
        EXPECT_EQ(reason_for("user@example.com/a" + control + "b"), "control character in resourcepart");
    }
    EXPECT_TRUE(Jid::parse("user@example.com/a\x20"
                           "b"));
}

TEST(Jid, LowercasesAsciiInLocalAndDomainButNotResource) {
    const auto jid = Jid::parse("JuLiet@Example.COM/BalCony");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "juliet");
    EXPECT_EQ(jid->domain(), "example.com");
    EXPECT_EQ(jid->resource(), "BalCony");
}

TEST(Jid, PassesNonAsciiThroughWithoutCaseMapping) {
    // U+00C4 (A with diaeresis) stays uppercase: only ASCII is case-mapped.
    const auto jid = Jid::parse("\xc3\x84rger@\xc3\x9c.Example");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->local(), "\xc3\x84rger");
    EXPECT_EQ(jid->domain(), "\xc3\x9c.example");
    EXPECT_NE(*jid, *Jid::parse("\xc3\xa4rger@\xc3\x9c.example"));
}

TEST(Jid, BareDropsResource) {
    const auto jid = Jid::parse("juliet@example.com/balcony");
    ASSERT_TRUE(jid);
    const Jid bare = jid->bare();
    EXPECT_TRUE(bare.is_bare());
    EXPECT_EQ(bare.local(), "juliet");
    EXPECT_EQ(bare.domain(), "example.com");
    EXPECT_EQ(bare.resource(), "");
    EXPECT_EQ(bare, *Jid::parse("juliet@example.com"));
    EXPECT_EQ(bare.bare(), bare);
}

TEST(Jid, FullAndBareStringOmitAbsentParts) {
    EXPECT_EQ(Jid::parse("example.com")->full(), "example.com");
    EXPECT_EQ(Jid::parse("example.com")->bare_string(), "example.com");
    EXPECT_EQ(Jid::parse("example.com/res")->full(), "example.com/res");
    EXPECT_EQ(Jid::parse("example.com/res")->bare_string(), "example.com");
    EXPECT_EQ(Jid::parse("user@example.com")->full(), "user@example.com");
    EXPECT_EQ(Jid::parse("User@Example.com/Res/x")->full(), "user@example.com/Res/x");
    EXPECT_EQ(Jid::parse("User@Example.com/Res/x")->bare_string(), "user@example.com");
}

TEST(Jid, FullReparsesToEqualJid) {
    for (const char* text :
         {"example.com", "a@b", "A@B.c./R@s/t", "x@[::1]/y", "\xc3\xa9@\xc3\xa9/\xc3\xa9"}) {
        const auto jid = Jid::parse(text);
        ASSERT_TRUE(jid) << text;
        EXPECT_EQ(Jid::parse(jid->full()), jid) << text;
    }
}

TEST(Jid, EqualityComparesNormalisedParts) {
    EXPECT_EQ(*Jid::parse("User@Example.com/r"), *Jid::parse("user@example.com./r"));
    EXPECT_NE(*Jid::parse("user@example.com/r"), *Jid::parse("user@example.com/R"));
    EXPECT_NE(*Jid::parse("user@example.com/r"), *Jid::parse("user@example.com"));
    EXPECT_NE(*Jid::parse("user@example.com"), *Jid::parse("example.com"));
    EXPECT_NE(*Jid::parse("user@example.com"), *Jid::parse("user@example.org"));
}

TEST(Jid, OrdersAndHashesForContainers) {
    const Jid a = *Jid::parse("a@example.com");
    const Jid b = *Jid::parse("b@example.com");
    EXPECT_LT(a, b);
    EXPECT_LT(a, *Jid::parse("a@example.com/r"));
    std::map<Jid, int> ordered{{b, 2}, {a, 1}};
    EXPECT_EQ(ordered.begin()->first, a);
    std::unordered_set<Jid> set{a, *Jid::parse("A@Example.com"), b};
    EXPECT_EQ(set.size(), 2u);
    EXPECT_EQ(std::hash<Jid>{}(a), std::hash<Jid>{}(*Jid::parse("A@EXAMPLE.COM.")));
}

TEST(Jid, StreamsFullForm) {
    std::ostringstream out;
    out << *Jid::parse("User@Example.com/Res");
    EXPECT_EQ(out.str(), "user@example.com/Res");
}

TEST(Jid, ParseOrReasonReturnsJidOnSuccess) {
    auto result = Jid::parse_or_reason("user@example.com/r");
    ASSERT_TRUE(std::holds_alternative<Jid>(result));
    EXPECT_EQ(std::get<Jid>(result).full(), "user@example.com/r");
}

// XEP-0106 §5.1 "JID Examples" (version 1.1.1): user input and escaped node, without "@example.com".
const std::vector<std::pair<std::string, std::string>> spec_examples = {
    {"space cadet", "space\\20cadet"},
    {"call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"},
    {"at&t guy", "at\\26t\\20guy"},
    {"d'artagnan", "d\\27artagnan"},
    {"/.fanboy", "\\2f.fanboy"},
    {"::foo::", "\\3a\\3afoo\\3a\\3a"},
    {"<foo>", "\\3cfoo\\3e"},
    {"user@host", "user\\40host"},
    {"c:\\net", "c\\3a\\net"},
    {"c:\\\\net", "c\\3a\\\\net"},
    {"c:\\cool stuff", "c\\3a\\cool\\20stuff"},
    {"c:\\5commas", "c\\3a\\5c5commas"},
};

TEST(Xep0106, EscapesEverySpecExample) {
    for (const auto& [raw, escaped] : spec_examples)
        EXPECT_EQ(escape_node(raw), escaped) << raw;
}

TEST(Xep0106, UnescapesEverySpecExample) {
    for (const auto& [raw, escaped] : spec_examples)
        EXPECT_EQ(unescape_node(escaped), raw) << escaped;
}

TEST(Xep0106, SpecExamplesAreValidJidsOnceEscaped) {
    for (const auto& [raw, escaped] : spec_examples) {
        const auto jid = Jid::parse(escape_node(raw) + "@example.com");
        ASSERT_TRUE(jid) << raw;
        EXPECT_EQ(jid->local(), escaped);
        EXPECT_FALSE(Jid::parse(raw + "@example.com") == jid) << raw;
    }
}

TEST(Xep0106, EscapesEachOfTheNineCharacters) {
    EXPECT_EQ(escape_node("a b\"c&d'e/f:g<h>i@j"), "a\\20b\\22c\\26d\\27e\\2ff\\3ag\\3ch\\3ei\\40j");
    EXPECT_EQ(unescape_node("a\\20b\\22c\\26d\\27e\\2ff\\3ag\\3ch\\3ei\\40j"), "a b\"c&d'e/f:g<h>i@j");
}

TEST(Xep0106, EscapesBackslashOnlyWhenItStartsAnEscapeSequence) {
    EXPECT_EQ(escape_node("\\20"), "\\5c20");
    EXPECT_EQ(escape_node("\\5c"), "\\5c5c");
    EXPECT_EQ(escape_node("call me\\20"), "call\\20me\\5c20");
    EXPECT_EQ(escape_node("\\3and\\2is\\5cool"), "\\5c3and\\2is\\5c5cool"); // §4.2 Wireless Village example
    EXPECT_EQ(escape_node("\\"), "\\");
    EXPECT_EQ(escape_node("a\\"), "a\\");
    EXPECT_EQ(escape_node("\\2"), "\\2");
    EXPECT_EQ(escape_node("\\2F"), "\\2F"); // uppercase hex is not an escape sequence
}

TEST(Xep0106, UnescapesBackslashSequenceOnceWithoutRecursing) {
    EXPECT_EQ(unescape_node("\\5c5c"), "\\5c");
    EXPECT_EQ(unescape_node("\\5c20"), "\\20");
    EXPECT_EQ(unescape_node("call\\20me\\5c20"), "call me\\20");
    EXPECT_EQ(unescape_node("\\5c3and\\2is\\5c5cool"), "\\3and\\2is\\5cool");
    EXPECT_EQ(unescape_node("tr\xc3\xa9ville\\40musketeers.lit"), "tr\xc3\xa9ville@musketeers.lit");
}

TEST(Xep0106, LeavesPartialAndUnknownSequencesAlone) {
    // §4.3 Exceptions.
    for (const std::string text :
         {"\\2plus\\2is\\4", "foo\\bar", "foob\\41r", "\\2F\\3A\\5C", "end\\", "end\\5"}) {
        EXPECT_EQ(escape_node(text), text);
        EXPECT_EQ(unescape_node(text), text);
    }
}

TEST(Xep0106, EscapeRejectsLeadingOrTrailingSpace) {
    EXPECT_THROW(escape_node(" cadet"), std::invalid_argument);
    EXPECT_THROW(escape_node("cadet "), std::invalid_argument);
    EXPECT_THROW(escape_node(" "), std::invalid_argument);
    EXPECT_EQ(escape_node(""), "");
    EXPECT_EQ(escape_node("a b"), "a\\20b");
}

TEST(Xep0106, UnescapeAcceptsAnything) {
    EXPECT_EQ(unescape_node(""), "");
    EXPECT_EQ(unescape_node("\\20edge\\20"), " edge ");
    EXPECT_EQ(unescape_node("plain"), "plain");
}

std::string random_node(std::mt19937& rng) {
    // Weighted towards backslashes, hex digits and the escaped characters to hit the interesting cases.
    static constexpr std::string_view ascii = "\\\\\\\\2053cf4ae27 \"&'/:<>@xAFC.%-_";
    static constexpr std::array<std::string_view, 3> multibyte = {"\xc3\xa9", "\xe6\x97\xa5",
                                                                  "\xf0\x9f\x98\x80"};
    const std::size_t length = rng() % 24;
    std::string node;
    for (std::size_t i = 0; i < length; ++i) {
        const std::size_t pick = rng() % (ascii.size() + multibyte.size());
        if (pick < ascii.size())
            node += ascii[pick];
        else
            node += multibyte[pick - ascii.size()];
    }
    return node;
}

TEST(Xep0106, RoundTripsRandomStrings) {
    std::mt19937 rng(20240611);
    int round_tripped = 0;
    int rejected = 0;
    for (int i = 0; i < 600; ++i) {
        const std::string raw = random_node(rng);
        if (!raw.empty() && (raw.front() == ' ' || raw.back() == ' ')) {
            EXPECT_THROW(escape_node(raw), std::invalid_argument) << raw;
            ++rejected;
            continue;
        }
        const std::string escaped = escape_node(raw);
        EXPECT_EQ(unescape_node(escaped), raw) << raw << " -> " << escaped;
        EXPECT_EQ(escaped.find_first_of(" \"&'/:<>@"), std::string::npos) << escaped;
        if (!raw.empty()) {
            const auto jid = Jid::from_parts(escaped, "example.com");
            EXPECT_TRUE(jid) << escaped;
        }
        ++round_tripped;
    }
    EXPECT_GT(round_tripped, 400);
    EXPECT_GT(rejected, 10);
}

TEST(Xep0106, EscapingIsInjectiveOnRandomStrings) {
    std::mt19937 rng(7);
    std::map<std::string, std::string> seen;
    for (int i = 0; i < 400; ++i) {
        const std::string raw = random_node(rng);
        if (!raw.empty() && (raw.front() == ' ' || raw.back() == ' '))
            continue;
        const auto [it, inserted] = seen.emplace(escape_node(raw), raw);
        if (!inserted) {
            EXPECT_EQ(it->second, raw) << "collision on " << it->first;
        }
    }
}

} // namespace
} // namespace ferry::xmpp
