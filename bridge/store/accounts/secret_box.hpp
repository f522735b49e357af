#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ferry::store {

/// A sealed secret that cannot be opened: wrong key, damaged bytes, or sealed for another account.
class SecretBoxError : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// Encrypts account secrets at rest (AES-256-GCM through OpenSSL) with the key from configuration
/// (database.secret_key). A sealed secret is: version byte 1, a random 12-byte nonce, the ciphertext, and the
/// 16-byte tag. `context` (for accounts: the connector id and the JID) is authenticated but not stored, so a
/// sealed secret copied to another account's row does not open there.
class SecretBox {
public:
    static constexpr std::size_t key_size = 32;

    /// The key as base64 of 32 random bytes (`openssl rand -base64 32`). std::invalid_argument otherwise;
    /// the message never contains the value.
    static SecretBox from_base64(std::string_view key);

    std::string seal(std::string_view plaintext, std::string_view context) const;
    /// The plaintext, or SecretBoxError.
    std::string open(std::string_view sealed, std::string_view context) const;

private:
    explicit SecretBox(const std::array<unsigned char, key_size>& key) : key_(key) {}
    std::array<unsigned char, key_size> key_;
};

} // namespace ferry::store
