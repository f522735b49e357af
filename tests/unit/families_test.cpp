// The families this binary is built with, as the command line and the documentation see them.
#include "connectors/families.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <sstream>

namespace ferry::connectors {
namespace {

TEST(Families, EveryKindIsOfferedByExactlyOneFamily) {
    std::set<std::string> seen;
    for (const core::KindSpec* kind : families().kinds()) {
        EXPECT_TRUE(seen.insert(kind->name).second) << kind->name << " is offered twice";
        EXPECT_NE(families().family_of(kind->name), nullptr);
    }
    for (const char* name : {"log", "alertmanager", "grafana", "webhook", "slack", "matrix", "telegram"})
        EXPECT_TRUE(seen.contains(name)) << name;
    EXPECT_EQ(families().find_kind("irc"), nullptr);
}

TEST(Families, AKindThatOnlyReceivesIsAuthenticatedOrSaysHow) {
    for (const core::KindSpec* kind : families().kinds()) {
        if (!kind->receives || kind->sends)
            continue;
        EXPECT_FALSE(kind->authenticated_by.empty()) << kind->name;
        for (const std::string& setting : kind->authenticated_by) {
            ASSERT_NE(kind->setting(setting), nullptr) << kind->name << " " << setting;
            EXPECT_TRUE(kind->setting(setting)->secret)
                << kind->name << " " << setting << " must be redacted";
        }
    }
}

TEST(Families, TheKindTableInTheCommandLineGuideIsTheOneTheBinaryWrites) {
    std::ifstream in(std::string(FERRY_SOURCE_DIR) + "/docs/cli.md");
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const std::string begin =
        "<!-- kinds: written by `ferry help kinds --markdown`; a unit test keeps them the same -->\n";
    const std::string end = "<!-- end of kinds -->";
    const auto from = doc.find(begin);
    const auto to = doc.find(end);
    ASSERT_NE(from, std::string::npos);
    ASSERT_NE(to, std::string::npos);
    EXPECT_EQ(doc.substr(from + begin.size(), to - from - begin.size()), families().kinds_table())
        << "docs/cli.md is out of date: replace its kind table with what `ferry help kinds --markdown` "
           "prints";
}

TEST(Families, MappingChecksComeFromTheKind) {
    const core::KindSpec* webhook = families().find_kind("webhook");
    ASSERT_NE(webhook, nullptr);
    ASSERT_TRUE(webhook->check_mapping);
    EXPECT_NO_THROW(webhook->check_mapping("ops@example.org", "in", "*"));
    EXPECT_THROW(webhook->check_mapping("ops@example.org", "both", "*"), std::invalid_argument);
    const core::KindSpec* alerts = families().find_kind("alertmanager");
    ASSERT_NE(alerts, nullptr);
    EXPECT_NO_THROW(alerts->check_mapping("ops@example.org", "in", "severity=critical,team!=ops"));
    EXPECT_THROW(alerts->check_mapping("ops@example.org", "in", "not a matcher"), std::invalid_argument);
    const core::KindSpec* discord = families().find_kind("discord");
    ASSERT_NE(discord, nullptr);
    EXPECT_THROW(discord->check_mapping("ops@example.org", "in", "x"), std::invalid_argument)
        << "discord only sends";
    const core::KindSpec* email = families().find_kind("email");
    ASSERT_NE(email, nullptr);
    EXPECT_NO_THROW(email->check_mapping("*@example.org", "both", "*@chat.example.org"));
    EXPECT_NO_THROW(email->check_mapping("carol@example.org", "both", "c.jones@chat.example.org"));
    EXPECT_THROW(email->check_mapping("*@example.org", "both", "alice@chat.example.org"),
                 std::invalid_argument)
        << "an organisation mapping is *@ on both sides";
    EXPECT_THROW(email->check_mapping("alice@example.org", "both", "*@chat.example.org"),
                 std::invalid_argument);
    EXPECT_THROW(email->check_mapping("*@example.org", "both", "*@not a domain"), std::invalid_argument);
    EXPECT_THROW(email->check_mapping("alice@example.org", "both", "alice"), std::invalid_argument);
}

} // namespace
} // namespace ferry::connectors
