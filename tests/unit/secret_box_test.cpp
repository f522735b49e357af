// Account secrets at rest: sealed with AES-256-GCM under database.secret_key, bound to their account.
#include "bridge/store/accounts/base64.hpp"
#include "bridge/store/accounts/secret_box.hpp"

#include <gtest/gtest.h>

namespace ferry::store {
namespace {

const std::string key_a = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const std::string key_b = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

TEST(Base64, Rfc4648Vectors) {
    const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}};
    for (const auto& [bytes, text] : vectors) {
        EXPECT_EQ(to_base64(bytes), text);
        EXPECT_EQ(from_base64(text), bytes);
    }
    const std::string binary("\0\xff\x10 ok\n", 7);
    EXPECT_EQ(from_base64(to_base64(binary)), binary);
    EXPECT_THROW(from_base64("Zm9"), std::invalid_argument);
    EXPECT_THROW(from_base64("Zm9*"), std::invalid_argument);
}

TEST(SecretBox, SealedSecretOpensWithTheSameKeyAndContextOnly) {
    const SecretBox box = SecretBox::from_base64(key_a);
    const std::string secret = "imap password: hunter2 \xe2\x9c\x93";
    const std::string sealed = box.seal(secret, "connector 1 jid alice@example.org");
    EXPECT_EQ(sealed.size(), 1 + 12 + secret.size() + 16);
    EXPECT_EQ(sealed.find("hunter2"), std::string::npos) << "the secret is stored in clear";
    EXPECT_EQ(box.open(sealed, "connector 1 jid alice@example.org"), secret);
    EXPECT_NE(box.seal(secret, "connector 1 jid alice@example.org"), sealed) << "a nonce was reused";

    EXPECT_THROW(SecretBox::from_base64(key_b).open(sealed, "connector 1 jid alice@example.org"),
                 SecretBoxError)
        << "another key opened it";
    EXPECT_THROW(box.open(sealed, "connector 1 jid mallory@example.org"), SecretBoxError)
        << "a secret copied to another account's row opened there";
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        std::string damaged = sealed;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
        EXPECT_THROW(box.open(damaged, "connector 1 jid alice@example.org"), SecretBoxError) << "byte " << i;
    }
    EXPECT_THROW(box.open(sealed.substr(0, 28), "connector 1 jid alice@example.org"), SecretBoxError);
    EXPECT_THROW(box.open("", "connector 1 jid alice@example.org"), SecretBoxError);
    EXPECT_EQ(box.open(box.seal("", "x"), "x"), "");
}

TEST(SecretBox, KeyMustBe32BytesOfBase64AndIsNeverEchoed) {
    EXPECT_NO_THROW(SecretBox::from_base64(key_a + "\n")); // as read from a file
    for (const std::string& bad : {std::string(""), std::string("c2hvcnQ="), key_a.substr(0, 43),
                                   key_a.substr(0, 40) + "!!!=", std::string(43, 'A') + "A"}) {
        try {
            SecretBox::from_base64(bad);
            ADD_FAILURE() << "accepted \"" << bad << "\"";
        } catch (const std::invalid_argument& e) {
            if (!bad.empty()) {
                EXPECT_EQ(std::string(e.what()).find(bad), std::string::npos) << e.what();
            }
        }
    }
}

} // namespace
} // namespace ferry::store
