#pragma once

#include <string>
#include <string_view>

namespace ferry::core {

/// Compares secrets in constant time (over their SHA-256, so lengths do not show either).
bool same_secret(std::string_view given, std::string_view expected);
/// HMAC-SHA256 of `data` under `key`, as lowercase hex (GitHub's X-Hub-Signature-256, Slack's v0 signature).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

} // namespace ferry::core
