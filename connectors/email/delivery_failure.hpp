#pragma once

#include "bridge/core/message.hpp"
#include "connectors/email/delivery_report.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// A mail Ferry sent for an XMPP message, as a delivery report about it finds it again.
struct SentMail {
    std::string xmpp_id;   ///< the XMPP message's id
    std::string author;    ///< its author's bare JID
    std::string recipient; ///< the mail address it was sent to
};

/// What to tell the author of `sent` about a delivery report on it: a reply to their XMPP message from the
/// recipient's address, naming the recipient, whether it will never arrive (a 5.x.x status) or may still
/// (a delay, 4.x.x), the status and the words of the server that refused it. A report without a
/// delivery-status part (`report` null) is taken as a failure, its readable text (`returned_text`) as the
/// reason. nullopt when the report says the mail arrived (a success notification): nothing to tell.
///
/// Not an error stanza: RFC 6121 §8.5.2.1.1 has servers discard errors addressed to a bare JID, and which
/// resource sent the message is not known days later; a reply (XEP-0461) is shown beside the message.
std::optional<core::Message> delivery_failure(const SentMail& sent, const DeliveryReport* report,
                                              std::string_view returned_text);

} // namespace ferry::connectors::email
