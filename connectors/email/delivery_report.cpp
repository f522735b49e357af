#include "connectors/email/delivery_report.hpp"

#include "bridge/text/utf8.hpp"
#include "connectors/email/gmime_support.hpp"

#include <utility>

namespace ferry::connectors::email {

namespace {

constexpr int max_depth = 32;
constexpr std::size_t max_parts = 512;
constexpr std::size_t max_recipients = 100; // reports about more say nothing more useful
constexpr std::size_t max_field = 2000;     // bytes of a field kept (a Diagnostic-Code can be long)

bool is_status_part(GMimeObject* object) {
    GMimeContentType* type = g_mime_object_get_content_type(object);
    return type != nullptr && (g_mime_content_type_is_type(type, "message", "delivery-status") ||
                               g_mime_content_type_is_type(type, "message", "global-delivery-status"));
}

/// The first delivery-status part, looking through multiparts (not into attached messages: a report
/// forwarded inside a message/rfc822 is about someone else's mail).
GMimePart* status_part(GMimeMessage* message) {
    std::vector<std::pair<GMimeObject*, int>> stack{{g_mime_message_get_mime_part(message), 0}};
    std::size_t parts = 0;
    while (!stack.empty() && ++parts <= max_parts) {
        auto [object, depth] = stack.back();
        stack.pop_back();
        if (object == nullptr)
            continue;
        if (GMIME_IS_MULTIPART(object) && depth < max_depth) {
            GMimeMultipart* multipart = GMIME_MULTIPART(object);
            for (int i = g_mime_multipart_get_count(multipart) - 1; i >= 0; --i)
                stack.emplace_back(g_mime_multipart_get_part(multipart, i), depth + 1);
        } else if (GMIME_IS_PART(object) && is_status_part(object)) {
            return GMIME_PART(object);
        }
    }
    return nullptr;
}

/// The groups of fields of a delivery-status body (RFC 3464 §2.1: the per-message fields, then one group
/// per recipient), separated by empty lines.
std::vector<std::string> field_groups(const std::string& body) {
    std::vector<std::string> groups;
    std::string group;
    std::size_t at = 0;
    while (at < body.size()) {
        std::size_t end = body.find('\n', at);
        if (end == std::string::npos)
            end = body.size();
        std::string_view line(body.data() + at, end - at);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            if (!group.empty())
                groups.push_back(std::move(group));
            group.clear();
        } else {
            group.append(line).append("\r\n");
        }
        at = end + 1;
    }
    if (!group.empty())
        groups.push_back(std::move(group));
    return groups;
}

/// One group of fields, read by GMime as the header of an empty part (unfolded, each name once).
class Fields {
public:
    explicit Fields(const std::string& group) {
        const std::string text = group + "\r\n";
        const GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
        const GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
        part_.reset(g_mime_parser_construct_part(parser.get(), nullptr));
    }

    std::string get(const char* name) const {
        if (!part_)
            return {};
        const char* value = g_mime_object_get_header(part_.get(), name);
        if (value == nullptr)
            return {};
        // Unfolding leaves the folding whitespace (RFC 5322 §2.2.3): shown as one space.
        std::string text;
        for (char c : text::printable(text::utf8_prefix(value, max_field))) {
            const bool blank = c == ' ' || c == '\t';
            if (!blank)
                text += c;
            else if (!text.empty() && text.back() != ' ')
                text += ' ';
        }
        if (text.ends_with(' '))
            text.pop_back();
        return text;
    }

    /// A typed field (`rfc822; bob@example.com`, `smtp; 550 …`) without its type.
    std::string typed(const char* name) const {
        std::string value = get(name);
        const std::size_t semicolon = value.find(';');
        if (semicolon == std::string::npos)
            return value;
        const std::size_t start = value.find_first_not_of(" \t", semicolon + 1);
        return start == std::string::npos ? std::string() : value.substr(start);
    }

private:
    GPtr<GMimeObject> part_;
};

} // namespace

bool RecipientReport::permanent() const {
    return status.starts_with('5') || (status.empty() && action == "failed");
}

bool RecipientReport::success() const {
    return action == "delivered" || action == "relayed" || action == "expanded";
}

std::optional<DeliveryReport> read_delivery_report(std::string_view mail) {
    const GPtr<GMimeMessage> message = parse_message(mail);
    if (!message)
        return std::nullopt;
    GMimePart* part = status_part(message.get());
    if (part == nullptr)
        return std::nullopt;
    const std::vector<std::string> groups = field_groups(decoded_bytes(part));
    DeliveryReport report;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const Fields fields(groups[i]);
        if (i == 0) {
            report.reporting_mta = fields.typed("Reporting-MTA");
            continue;
        }
        RecipientReport recipient;
        recipient.recipient = fields.typed("Final-Recipient");
        if (recipient.recipient.empty())
            recipient.recipient = fields.typed("Original-Recipient");
        recipient.action = text::ascii_lowercase(fields.get("Action"));
        recipient.status = fields.get("Status");
        if (const std::size_t space = recipient.status.find_first_of(" \t("); space != std::string::npos)
            recipient.status.resize(space); // "5.0.0 (permanent failure)" in some MTAs' reports
        recipient.diagnostic = fields.typed("Diagnostic-Code");
        if (recipient.recipient.empty() && recipient.action.empty())
            continue;
        report.recipients.push_back(std::move(recipient));
        if (report.recipients.size() == max_recipients)
            break;
    }
    return report;
}

} // namespace ferry::connectors::email
