#pragma once

#include <string>
#include <string_view>

namespace ferry::core {

/// Compares secrets in constant time (over their SHA-256, so lengths do not show either).
bool same_secret(std::string_view given, std::string_view expected);
/// HMAC-SHA256 of `data` under `key`, as lowercase hex (X-Hub-Signature-256 and the signatures chat services
/// put on their requests).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
/// The credentials of an `Authorization` header value in `scheme` (`Bearer`, `Basic`; the scheme's name in
/// any case, RFC 9110 section 11.1), or empty when it names another scheme or none.
std::string_view authorization_credentials(std::string_view authorization, std::string_view scheme);

} // namespace ferry::core
