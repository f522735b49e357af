#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// Text as the body of a `text/plain; format=flowed` part (RFC 3676, https://www.rfc-editor.org/rfc/rfc3676):
/// each line wrapped at `width` columns at spaces, a trailing space marking each soft break; XEP-0393 quote
/// lines (`> …`, `>> …`) as flowed quotes of their depth; lines that would read as quotes or as mbox
/// separators (` `, `>`, `From `) space-stuffed; spaces at the end of a line (a hard break) dropped, except
/// in the signature separator `-- `. Lines end in LF (the writer of the mail turns them into CRLF).
std::string to_flowed(std::string_view text, std::size_t width = 72);

/// The text a `format=flowed` body holds (LF line ends): soft-broken lines of one quote depth joined into
/// one, space-stuffing removed, quotes written back as XEP-0393 `> ` lines; `delsp` (DelSp=yes) drops the
/// space of each soft break.
std::string from_flowed(std::string_view body, bool delsp);

} // namespace ferry::connectors::email
