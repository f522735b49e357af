#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors::email {

/// What a delivery status notification (RFC 3464) says about one recipient.
struct RecipientReport {
    std::string recipient;  ///< Final-Recipient's address (Original-Recipient's when that is all there is)
    std::string action;     ///< failed, delayed, delivered, relayed or expanded (lowercase)
    std::string status;     ///< the enhanced status code (RFC 3463), such as 5.1.1
    std::string diagnostic; ///< Diagnostic-Code without its type: the words of the server that refused

    /// The mail will not arrive (a 5.x.x status, or failed); otherwise it may still (delayed, a 4.x.x).
    bool permanent() const;
    /// Nothing went wrong for this recipient (delivered, relayed, expanded): nothing to tell anyone.
    bool success() const;
};

struct DeliveryReport {
    std::string reporting_mta; ///< Reporting-MTA's name, without its type
    std::vector<RecipientReport> recipients;
};

/// The delivery status of a mail that is a delivery report: the message/delivery-status part (or
/// message/global-delivery-status) found in any multipart layout — multipart/report at the top, or nested
/// in a multipart/mixed as some MTAs and forwarders do — within the same bounds as read_mail. nullopt when
/// the mail has no such part. Never throws for bad input.
std::optional<DeliveryReport> read_delivery_report(std::string_view mail);

} // namespace ferry::connectors::email
