#pragma once

#include "connectors/email/mail_address.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace ferry::connectors::email {

/// One mail Ferry writes for an XMPP message. Text fields are as XMPP gave them: the composer makes them
/// safe.
struct OutgoingMail {
    MailAddress from;
    std::string from_name; ///< the sender's name as shown; may be empty
    MailAddress to;
    std::chrono::system_clock::time_point date;
    std::string message_id;              ///< without angle brackets; Ferry's own (MailTokens)
    std::vector<std::string> references; ///< the thread's Message-IDs, oldest first; the last is replied to
    std::string subject;
    std::string text; ///< UTF-8 with XEP-0393 styling
    /// Set on what Ferry writes by itself (an error report), never on a person's message (RFC 3834).
    bool auto_generated = false;
};

/// The mail as RFC 5322 bytes with CRLF line ends, as SMTP's DATA carries it (before dot-stuffing):
/// From, To, Date, Message-ID, In-Reply-To and References (ids that cannot be written as they are are left
/// out), Subject, then multipart/alternative with text/plain (UTF-8, format=flowed, quoted-printable) and
/// text/html written from the styling. No field from XMPP can add or end a header.
std::string compose_mail(const OutgoingMail& mail);

} // namespace ferry::connectors::email
