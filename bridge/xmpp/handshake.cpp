#include "bridge/xmpp/handshake.hpp"

#include <memory>
#include <openssl/evp.h>
#include <stdexcept>

namespace ferry::xmpp {

std::string component_handshake_digest(std::string_view stream_id, std::string_view secret) {
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha1(), nullptr) != 1 ||
        EVP_DigestUpdate(context.get(), stream_id.data(), stream_id.size()) != 1 ||
        EVP_DigestUpdate(context.get(), secret.data(), secret.size()) != 1 ||
        EVP_DigestFinal_ex(context.get(), digest, &length) != 1)
        throw std::runtime_error("OpenSSL SHA-1 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0x0f]);
    }
    return out;
}

} // namespace ferry::xmpp
