#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// Text from XMPP (a subject, a nick) made fit for one header field: control characters, DEL, NEL and the
/// Unicode line and paragraph separators become spaces, so that nothing can end the field or start another;
/// runs of white space become one space; invalid UTF-8 becomes U+FFFD; cut at `max_bytes` on a character
/// boundary; trimmed.
std::string header_safe(std::string_view text, std::size_t max_bytes);

/// header_safe() text as the mail writer must be given it: unchanged, unless it contains `=?`, which a mail
/// client would decode as an RFC 2047 encoded word that the writer passes through as it is (a sender could
/// make their name or subject show as something else). Such text is encoded here into `=?utf-8?b?…?=` words,
/// which decode to exactly the text as written.
std::string header_phrase(std::string_view text, std::size_t max_bytes);

/// True for a Message-ID (without its angle brackets) that can be written into In-Reply-To and References
/// as it is: `left@right`, printable ASCII without spaces, angle brackets or quotes, at most 250 bytes.
bool is_writable_message_id(std::string_view id);

} // namespace ferry::connectors::email
