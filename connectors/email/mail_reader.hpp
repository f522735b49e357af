#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors::email {

/// What Ferry takes from a mail arriving for XMPP.
struct ReadMail {
    std::string from;       ///< the author's address (From), as written; empty when none is readable
    std::string from_name;  ///< their display name, decoded (RFC 2047); may be empty
    std::string subject;    ///< decoded; may be empty
    std::string message_id; ///< without angle brackets; may be empty
    std::vector<std::string>
        references;         ///< References then In-Reply-To, without angle brackets, oldest first
    std::string text;       ///< the readable text, UTF-8 with LF line ends
    bool automatic = false; ///< an auto-reply, a list, a bounce (RFC 3834 Auto-Submitted, Precedence, …)
    std::vector<std::string> authentication_results; ///< every Authentication-Results field, topmost first
    std::vector<std::string> problems; ///< what was wrong with the mail and how it was read anyway
};

/// Reads a mail (RFC 5322 bytes) with GMime: the text of the first text/plain part (text/html made readable
/// when there is none), multiparts walked without recursion and within bounds (nesting, parts), each text
/// decoded from its declared charset, then as UTF-8, then as windows-1252, never losing the readable
/// text to a wrong charset, a broken boundary or bad base64. Never throws for bad input.
ReadMail read_mail(std::string_view bytes);

/// An HTML document as plain text: the text of the body without scripts and styles, a line break after each
/// block, links as `label <url>`. libxml2's HTML parser, which recovers from any markup.
std::string html_to_text(std::string_view html);

} // namespace ferry::connectors::email
