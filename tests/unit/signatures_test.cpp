// Credentials and signatures of inbound requests (bridge/core/signatures.hpp).
#include "bridge/core/signatures.hpp"

#include <gtest/gtest.h>

namespace ferry::core {
namespace {

TEST(AuthorizationCredentials, TakesTheCredentialsOfTheNamedSchemeInAnyCase) {
    EXPECT_EQ(authorization_credentials("Bearer s3cret", "Bearer"), "s3cret");
    EXPECT_EQ(authorization_credentials("bearer s3cret", "Bearer"), "s3cret");
    EXPECT_EQ(authorization_credentials("BASIC dTpw", "Basic"), "dTpw");
}

TEST(AuthorizationCredentials, IsEmptyForAnotherSchemeOrNoCredentials) {
    EXPECT_EQ(authorization_credentials("Basic dTpw", "Bearer"), "");
    EXPECT_EQ(authorization_credentials("Bearer", "Bearer"), "");
    EXPECT_EQ(authorization_credentials("Bearer ", "Bearer"), "");
    EXPECT_EQ(authorization_credentials("Bearers3cret", "Bearer"), "");
    EXPECT_EQ(authorization_credentials("", "Bearer"), "");
}

TEST(SameSecret, EqualOnlyForTheSameBytes) {
    EXPECT_TRUE(same_secret("token-1", "token-1"));
    EXPECT_FALSE(same_secret("token-1", "token-2"));
    EXPECT_FALSE(same_secret("token", "token-1"));
    EXPECT_FALSE(same_secret("", "token"));
}

TEST(HmacSha256Hex, MatchesRfc4231TestCase2) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

} // namespace
} // namespace ferry::core
