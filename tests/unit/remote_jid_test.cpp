#include "bridge/core/router.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stringprep.hpp"

#include <gtest/gtest.h>
#include <regex>

namespace ferry::core {
namespace {

constexpr std::string_view domain = "ferry.example.org";

bool stand_in(const std::string& jid) {
    return std::regex_match(jid, std::regex("~[0-9a-f]{16}%hook@ferry\\.example\\.org"));
}

TEST(RemoteJid, EscapesTheAddressAndReversesExactly) {
    EXPECT_EQ(remote_jid("alice@example.com", "mail", domain), "alice\\40example.com%mail@ferry.example.org");
    const auto jid = xmpp::Jid::parse(remote_jid("d'artagnan & co", "hook", domain));
    ASSERT_TRUE(jid);
    const auto remote = split_remote_local(jid->local());
    ASSERT_TRUE(remote);
    EXPECT_EQ(remote->first, "d'artagnan & co");
    EXPECT_EQ(remote->second, "hook");
}

TEST(RemoteJid, SpacesAroundTheAddressAreNotPartOfIt) {
    EXPECT_EQ(remote_jid(" evil", "hook", domain), "evil%hook@ferry.example.org");
    EXPECT_EQ(remote_jid("evil \t\n", "hook", domain), "evil%hook@ferry.example.org");
    EXPECT_EQ(remote_jid("two words", "hook", domain), "two\\20words%hook@ferry.example.org");
}

TEST(RemoteJid, AnAddressNoJidCanCarryGetsAStableStandIn) {
    for (const std::string& odd : {std::string("x\x01y"), std::string(2000, 'n'), std::string("   "),
                                   std::string("\xEF\xBF\xBD"),             // U+FFFD: prohibited by nodeprep
                                   std::string("\xD7\x93\xD7\xA0\xD7\x99"), // Hebrew beside the Latin suffix
                                   std::string("\xEE\x80\x80")}) {          // private use
        EXPECT_FALSE(exact_remote_jid(odd, "hook", domain)) << odd;
        const std::string jid = remote_jid(odd, "hook", domain);
        EXPECT_TRUE(stand_in(jid)) << jid;
        EXPECT_EQ(jid, remote_jid(odd, "hook", domain)) << "not stable";
        ASSERT_TRUE(xmpp::Jid::parse(jid));
        EXPECT_TRUE(xmpp::nodeprep(xmpp::Jid::parse(jid)->local())) << "the server would refuse " << jid;
    }
    EXPECT_NE(remote_jid("x\x01y", "hook", domain), remote_jid("x\x02y", "hook", domain));
}

TEST(Stringprep, AcceptsWhatTheServersAcceptAndRefusesTheRest) {
    EXPECT_EQ(xmpp::nodeprep("Alice"), "alice");
    EXPECT_EQ(xmpp::resourceprep("Alice (slack)"), "Alice (slack)");
    EXPECT_FALSE(xmpp::nodeprep("a b"));
    EXPECT_FALSE(xmpp::resourceprep("x\xEF\xBF\xBEy"));                   // U+FFFE
    EXPECT_FALSE(xmpp::resourceprep("\xD7\x93\xD7\xA0\xD7\x99 (slack)")); // mixed directions
    EXPECT_TRUE(xmpp::resourceprep("\xD7\x93\xD7\xA0\xD7\x99"));
    EXPECT_FALSE(xmpp::nodeprep(std::string("a\0b", 3)));
}

} // namespace
} // namespace ferry::core
