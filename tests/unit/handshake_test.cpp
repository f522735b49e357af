#include "bridge/xmpp/handshake.hpp"

#include <gtest/gtest.h>

namespace ferry::xmpp {
namespace {

// XEP-0114 §3 example: stream id 3BF96D32. The XEP does not state its secret, so the expected digests were
// computed independently (Python hashlib.sha1((id + secret).encode()).hexdigest()).
TEST(Handshake, DigestIsLowercaseHexSha1OfStreamIdAndSecret) {
    EXPECT_EQ(component_handshake_digest("3BF96D32", "secret"), "b09ea9b3b7f586be8a08d0a3dd7466f110aeb136");
    EXPECT_EQ(component_handshake_digest("3BF96D32", "sesame"), "7a98dc4c9e92493d7fd66a25364c862637789c45");
}

TEST(Handshake, MatchesTheSha1TestVectorOfRfc3174) {
    // SHA1("abc") split between stream id and secret.
    EXPECT_EQ(component_handshake_digest("ab", "c"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

} // namespace
} // namespace ferry::xmpp
