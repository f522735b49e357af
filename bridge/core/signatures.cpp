#include "bridge/core/signatures.hpp"

#include <algorithm>
#include <cctype>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace ferry::core {

std::string_view authorization_credentials(std::string_view authorization, std::string_view scheme) {
    const bool named =
        authorization.size() > scheme.size() + 1 && authorization[scheme.size()] == ' ' &&
        std::equal(scheme.begin(), scheme.end(), authorization.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    return named ? authorization.substr(scheme.size() + 1) : std::string_view();
}

bool same_secret(std::string_view given, std::string_view expected) {
    unsigned char a[EVP_MAX_MD_SIZE];
    unsigned char b[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(given.data(), given.size(), a, &size, EVP_sha256(), nullptr) != 1 ||
        EVP_Digest(expected.data(), expected.size(), b, &size, EVP_sha256(), nullptr) != 1)
        return false;
    return CRYPTO_memcmp(a, b, size) == 0;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size) == nullptr)
        return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{size} * 2);
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

} // namespace ferry::core
