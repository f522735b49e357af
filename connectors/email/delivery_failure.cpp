#include "connectors/email/delivery_failure.hpp"

#include "bridge/text/utf8.hpp"

namespace ferry::connectors::email {

namespace {

constexpr std::size_t max_reason = 1000; // bytes of the returned text quoted when there is no status

/// The report's entry about `recipient` (case-blind); else its first entry that is not a success.
const RecipientReport* entry_about(const DeliveryReport& report, std::string_view recipient) {
    const std::string wanted = text::ascii_lowercase(recipient);
    for (const RecipientReport& entry : report.recipients)
        if (text::ascii_lowercase(entry.recipient) == wanted)
            return &entry;
    for (const RecipientReport& entry : report.recipients)
        if (!entry.success())
            return &entry;
    return nullptr;
}

} // namespace

std::optional<core::Message> delivery_failure(const SentMail& sent, const DeliveryReport* report,
                                              std::string_view returned_text) {
    core::Message message;
    message.kind = "reply";
    message.from = sent.recipient;
    message.to = sent.author;
    message.refers_to = sent.xmpp_id;
    if (report == nullptr) {
        const std::string reason(text::utf8_prefix(returned_text, max_reason)); // read_mail's: valid text
        message.text = "Your message to " + sent.recipient + " could not be delivered" +
                       (reason.empty() ? std::string(".") : ": " + reason);
        return message;
    }
    const RecipientReport* entry = entry_about(*report, sent.recipient);
    if (entry == nullptr || entry->success())
        return std::nullopt;
    const std::string why = entry->diagnostic.empty() ? std::string() : ": " + entry->diagnostic;
    const std::string status = entry->status.empty() ? std::string() : "status " + entry->status + ", ";
    if (entry->permanent()) {
        message.text = "Your message to " + sent.recipient + " could not be delivered" + why + " (" + status +
                       "permanent: it will not be delivered)";
    } else {
        message.text = "Your message to " + sent.recipient + " has not been delivered yet" + why + " (" +
                       status + "temporary: the mail system keeps trying)";
    }
    return message;
}

} // namespace ferry::connectors::email
