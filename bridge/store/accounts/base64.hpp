#pragma once

#include <string>
#include <string_view>

namespace ferry::store {

/// Standard base64 with padding, on one line (OpenSSL's EVP_EncodeBlock).
std::string to_base64(std::string_view bytes);
/// The bytes of standard, padded base64 on one line (OpenSSL's EVP_DecodeBlock); std::invalid_argument
/// when `text` is not that.
std::string from_base64(std::string_view text);

} // namespace ferry::store
