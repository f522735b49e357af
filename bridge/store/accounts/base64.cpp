#include "bridge/store/accounts/base64.hpp"

#include <openssl/evp.h>
#include <stdexcept>

namespace ferry::store {

std::string to_base64(std::string_view bytes) {
    std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    text.resize(static_cast<std::size_t>(written));
    return text;
}

std::string from_base64(std::string_view text) {
    if (text.size() % 4 != 0)
        throw std::invalid_argument("base64 text must come in groups of 4 characters");
    std::string bytes(text.size() / 4 * 3 + 1, '\0');
    const int written =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (written < 0)
        throw std::invalid_argument("not valid base64");
    // EVP_DecodeBlock counts the padding as zero bytes.
    std::size_t size = static_cast<std::size_t>(written);
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i)
        --size;
    bytes.resize(size);
    return bytes;
}

} // namespace ferry::store
