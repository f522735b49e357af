// Authentication-Results (RFC 8601) as Ferry reads them to decide whether a mail's From may become an XMPP
// identity: only the fields of the configured authserv-id count, the topmost first, comments ignored.
#include "connectors/email/authentication_results.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::email {
namespace {

TEST(AuthenticationResults, TheTrustedServersDmarcResultIsFound) {
    const std::vector<std::string> fields = {
        "mx.example.org; spf=pass smtp.mailfrom=example.com; dkim=pass (good signature) header.d=example.com;"
        " dmarc=fail (p=reject dis=none) header.from=example.com"};
    EXPECT_EQ(authentication_result(fields, "MX.example.org", "dmarc"), "fail");
    EXPECT_EQ(authentication_result(fields, "mx.example.org", "spf"), "pass");
    EXPECT_EQ(authentication_result(fields, "mx.example.org", "arc"), std::nullopt);
}

TEST(AuthenticationResults, FieldsOfAnyOtherAuthservIdAreIgnored) {
    // A sender can write any field it likes; only the MTA's own (topmost) is believed.
    const std::vector<std::string> forged = {"evil.example; dmarc=pass header.from=bank.example"};
    EXPECT_EQ(authentication_result(forged, "mx.example.org", "dmarc"), std::nullopt);
    const std::vector<std::string> both = {"mx.example.org 1; dmarc=fail header.from=bank.example",
                                           "mx.example.org; dmarc=pass header.from=bank.example"};
    EXPECT_EQ(authentication_result(both, "mx.example.org", "dmarc"), "fail");
}

TEST(AuthenticationResults, CommentsAndQuotedStringsDoNotConfuseTheReading) {
    const std::vector<std::string> fields = {
        "mx.example.org (version 1; dmarc=pass); dkim/1=neutral header.b=\"x;dmarc=pass\"; "
        "DMARC=Fail (reason: \"p=reject\") header.from=example.com"};
    EXPECT_EQ(authentication_result(fields, "mx.example.org", "dmarc"), "fail");
    EXPECT_EQ(authentication_result(fields, "mx.example.org", "dkim"), "neutral");
    EXPECT_EQ(authentication_result({"mx.example.org; none"}, "mx.example.org", "dmarc"), std::nullopt);
    EXPECT_EQ(authentication_result({"", ";;;", "(((", "\""}, "mx.example.org", "dmarc"), std::nullopt);
}

} // namespace
} // namespace ferry::connectors::email
