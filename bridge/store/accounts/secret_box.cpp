#include "bridge/store/accounts/secret_box.hpp"

#include <algorithm>
#include <memory>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <vector>

namespace ferry::store {

namespace {

constexpr unsigned char format_version = 1;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherContext new_context() {
    CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    if (!context)
        throw std::bad_alloc();
    return context;
}

const unsigned char* bytes(std::string_view text) {
    return reinterpret_cast<const unsigned char*>(text.data());
}

int length(std::string_view text) {
    if (text.size() > std::size_t{16} * 1024 * 1024)
        throw std::invalid_argument("a secret and its context are limited to 16 MiB");
    return static_cast<int>(text.size());
}

} // namespace

SecretBox SecretBox::from_base64(std::string_view key) {
    const std::string trimmed(key.substr(0, key.find_last_not_of(" \t\r\n") + 1));
    // EVP_DecodeBlock pads its output to whole 3-byte groups; 32 bytes are 44 characters with one '='.
    if (trimmed.size() != 44 || trimmed[43] != '=' || trimmed[42] == '=')
        throw std::invalid_argument(
            "expected 32 bytes in base64 (44 characters, e.g. from `openssl rand -base64 32`)");
    std::array<unsigned char, 33> decoded{};
    if (EVP_DecodeBlock(decoded.data(), bytes(trimmed), 44) != 33)
        throw std::invalid_argument("not valid base64 (expected the output of `openssl rand -base64 32`)");
    std::array<unsigned char, key_size> raw{};
    std::copy_n(decoded.begin(), key_size, raw.begin());
    return SecretBox(raw);
}

std::string SecretBox::seal(std::string_view plaintext, std::string_view context) const {
    std::string sealed(1 + nonce_size + plaintext.size() + tag_size, '\0');
    auto* out = reinterpret_cast<unsigned char*>(sealed.data());
    out[0] = format_version;
    unsigned char* nonce = out + 1;
    if (RAND_bytes(nonce, static_cast<int>(nonce_size)) != 1)
        throw std::runtime_error("OpenSSL could not produce random bytes for a nonce");
    CipherContext c = new_context();
    int written = 0;
    int final_written = 0;
    const bool ok =
        EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) == 1 &&
        EVP_EncryptInit_ex(c.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
        EVP_EncryptUpdate(c.get(), nullptr, &written, bytes(context), length(context)) == 1 &&
        EVP_EncryptUpdate(c.get(), nonce + nonce_size, &written, bytes(plaintext), length(plaintext)) == 1 &&
        EVP_EncryptFinal_ex(c.get(), nonce + nonce_size + written, &final_written) == 1 &&
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                            nonce + nonce_size + plaintext.size()) == 1;
    if (!ok)
        throw std::runtime_error("OpenSSL could not encrypt the secret");
    return sealed;
}

std::string SecretBox::open(std::string_view sealed, std::string_view context) const {
    if (sealed.size() < 1 + nonce_size + tag_size || static_cast<unsigned char>(sealed[0]) != format_version)
        throw SecretBoxError("the stored secret is not in a format this ferry knows");
    const std::string_view nonce = sealed.substr(1, nonce_size);
    const std::string_view ciphertext =
        sealed.substr(1 + nonce_size, sealed.size() - 1 - nonce_size - tag_size);
    std::string tag(sealed.substr(sealed.size() - tag_size));
    std::string plaintext(ciphertext.size(), '\0');
    auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
    CipherContext c = new_context();
    int written = 0;
    int final_written = 0;
    const bool ok =
        EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) == 1 &&
        EVP_DecryptInit_ex(c.get(), nullptr, nullptr, key_.data(), bytes(nonce)) == 1 &&
        EVP_DecryptUpdate(c.get(), nullptr, &written, bytes(context), length(context)) == 1 &&
        EVP_DecryptUpdate(c.get(), out, &written, bytes(ciphertext), length(ciphertext)) == 1 &&
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1 &&
        EVP_DecryptFinal_ex(c.get(), out + written, &final_written) == 1;
    if (!ok)
        throw SecretBoxError(
            "the stored secret does not open with this key (wrong database.secret_key, or the "
            "row was altered or copied from another account)");
    return plaintext;
}

} // namespace ferry::store
