#include "connectors/email/mail_reader.hpp"

#include "bridge/text/utf8.hpp"
#include "connectors/email/flowed.hpp"
#include "connectors/email/gmime_support.hpp"

#include <algorithm>
#include <initializer_list>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <utility>

namespace ferry::connectors::email {

namespace {

constexpr int max_depth = 32;            // deeper parts are not looked into (GMime itself goes to 1024)
constexpr std::size_t max_parts = 512;   // parts looked at
constexpr std::size_t max_text = 262144; // bytes of text kept: more than any XMPP server carries in a message

struct ReferencesFree {
    void operator()(GMimeReferences* references) const noexcept { g_mime_references_free(references); }
};
struct XmlDocFree {
    void operator()(xmlDoc* doc) const noexcept { xmlFreeDoc(doc); }
};

std::optional<std::string> converted(const std::string& bytes, const char* from) {
    gsize written = 0;
    GError* error = nullptr;
    const GChars text(
        g_convert(bytes.data(), static_cast<gssize>(bytes.size()), "UTF-8", from, nullptr, &written, &error));
    if (error != nullptr)
        g_error_free(error);
    if (!text)
        return std::nullopt;
    return std::string(text.get(), written);
}

/// The text in UTF-8: as its declared charset says, else as UTF-8 if it is, else as windows-1252 (and
/// Latin-1 for the five bytes windows-1252 leaves undefined).
std::string utf8_text(const std::string& bytes, const char* charset, std::vector<std::string>& problems) {
    if (charset != nullptr && *charset != '\0') {
        if (auto text = converted(bytes, g_mime_charset_iconv_name(charset)); text && text::valid_utf8(*text))
            return std::move(*text);
        problems.push_back("the text is not in its declared charset " + text::printable(charset));
    }
    if (text::valid_utf8(bytes))
        return bytes;
    if (auto text = converted(bytes, "WINDOWS-1252"))
        return std::move(*text);
    return converted(bytes, "ISO-8859-1").value_or(std::string());
}

std::string without_carriage_returns(std::string text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] != '\r' || i + 1 >= text.size() || text[i + 1] != '\n')
            out += text[i];
    return out;
}

bool is_block(const xmlChar* name) {
    static constexpr std::string_view blocks[] = {"p",          "div",   "br", "li", "tr", "h1",
                                                  "h2",         "h3",    "h4", "h5", "h6", "pre",
                                                  "blockquote", "table", "ul", "ol", "hr"};
    const std::string_view element(reinterpret_cast<const char*>(name));
    for (std::string_view block : blocks)
        if (element == block)
            return true;
    return false;
}

void collect_text(xmlNode* node, std::string& out) {
    // An explicit stack: markup nests as deep as a sender likes.
    std::vector<std::pair<xmlNode*, bool>> stack{{node, false}};
    while (!stack.empty()) {
        auto [current, closing] = stack.back();
        stack.pop_back();
        if (closing) {
            if (is_block(current->name) && !out.ends_with('\n'))
                out += '\n';
            if (xmlStrcmp(current->name, BAD_CAST "a") == 0)
                if (xmlChar* href = xmlGetProp(current, BAD_CAST "href"); href != nullptr) {
                    const std::string url(reinterpret_cast<const char*>(href));
                    xmlFree(href);
                    if (!url.empty() && out.find(url) == std::string::npos)
                        out += " <" + url + ">";
                }
            continue;
        }
        if (current->type == XML_TEXT_NODE && current->content != nullptr) {
            out += reinterpret_cast<const char*>(current->content);
            continue;
        }
        if (current->type != XML_ELEMENT_NODE && current->type != XML_HTML_DOCUMENT_NODE)
            continue;
        if (current->name != nullptr && (xmlStrcmp(current->name, BAD_CAST "script") == 0 ||
                                         xmlStrcmp(current->name, BAD_CAST "style") == 0 ||
                                         xmlStrcmp(current->name, BAD_CAST "head") == 0))
            continue;
        if (current->type == XML_ELEMENT_NODE)
            stack.emplace_back(current, true);
        // Pushed last child first, so that the first is taken next.
        const std::size_t first = stack.size();
        for (xmlNode* child = current->children; child != nullptr; child = child->next)
            stack.emplace_back(child, false);
        std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(first), stack.end());
    }
}

bool header_says(GMimeObject* object, const char* name, std::initializer_list<std::string_view> values) {
    const char* value = g_mime_object_get_header(object, name);
    if (value == nullptr)
        return false;
    const std::string lower = text::ascii_lowercase(value);
    for (std::string_view wanted : values)
        if (lower.find(wanted) != std::string::npos)
            return true;
    return false;
}

void read_headers(GMimeMessage* message, ReadMail& read) {
    GMimeObject* object = GMIME_OBJECT(message);
    if (InternetAddressList* from = g_mime_message_get_from(message);
        from != nullptr && internet_address_list_length(from) > 0) {
        InternetAddress* author = internet_address_list_get_address(from, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(author))
            if (const char* address = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(author)))
                read.from = address;
        if (const char* name = internet_address_get_name(author))
            read.from_name = name;
    }
    if (const char* subject = g_mime_message_get_subject(message))
        read.subject = subject;
    if (const char* id = g_mime_message_get_message_id(message))
        read.message_id = id;
    for (const char* name : {"References", "In-Reply-To"}) {
        const char* value = g_mime_object_get_header(object, name);
        if (value == nullptr)
            continue;
        const std::unique_ptr<GMimeReferences, ReferencesFree> ids(g_mime_references_parse(nullptr, value));
        for (int i = 0; ids && i < g_mime_references_length(ids.get()); ++i) {
            const std::string id = g_mime_references_get_message_id(ids.get(), i);
            if (std::find(read.references.begin(), read.references.end(), id) == read.references.end())
                read.references.push_back(id);
        }
    }
    GMimeHeaderList* fields = g_mime_object_get_header_list(object);
    for (int i = 0; fields != nullptr && i < g_mime_header_list_get_count(fields); ++i) {
        GMimeHeader* field = g_mime_header_list_get_header_at(fields, i);
        if (const char* value = g_mime_header_get_value(field);
            value != nullptr &&
            g_ascii_strcasecmp(g_mime_header_get_name(field), "Authentication-Results") == 0)
            read.authentication_results.emplace_back(value);
    }
    const char* auto_submitted = g_mime_object_get_header(object, "Auto-Submitted");
    const std::string author = text::ascii_lowercase(read.from.substr(0, read.from.find('@')));
    read.automatic = (auto_submitted != nullptr && text::ascii_lowercase(auto_submitted).find("no") != 0) ||
                     header_says(object, "Precedence", {"bulk", "junk", "list", "auto_reply"}) ||
                     g_mime_object_get_header(object, "X-Autoreply") != nullptr ||
                     g_mime_object_get_header(object, "List-Id") != nullptr || author == "mailer-daemon" ||
                     author == "postmaster";
}

} // namespace

std::string html_to_text(std::string_view html) {
    const std::unique_ptr<xmlDoc, XmlDocFree> doc(
        htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                           HTML_PARSE_NOBLANKS));
    if (!doc)
        return {};
    std::string out;
    collect_text(reinterpret_cast<xmlNode*>(doc.get()), out);
    // White space as a reader sees it: runs of blanks as one, at most one empty line.
    std::string tidy;
    for (char c : out) {
        if ((c == ' ' || c == '\t') && (tidy.empty() || tidy.back() == ' ' || tidy.back() == '\n'))
            continue;
        if (c == '\n' && tidy.ends_with("\n\n"))
            continue;
        if (c == '\n' && tidy.ends_with(' '))
            tidy.pop_back();
        tidy += c == '\t' ? ' ' : c;
    }
    while (!tidy.empty() && (tidy.back() == '\n' || tidy.back() == ' '))
        tidy.pop_back();
    return tidy;
}

ReadMail read_mail(std::string_view bytes) {
    ReadMail read;
    const GPtr<GMimeMessage> message = parse_message(bytes);
    if (!message) {
        read.problems.emplace_back("not a mail message");
        return read;
    }
    read_headers(message.get(), read);

    GMimePart* plain = nullptr;
    GMimePart* html = nullptr;
    std::vector<std::string> attachments;
    std::string stray_text; ///< the text of a multipart without parts
    std::vector<std::pair<GMimeObject*, int>> stack{{g_mime_message_get_mime_part(message.get()), 0}};
    std::size_t parts = 0;
    while (!stack.empty()) {
        auto [object, depth] = stack.back();
        stack.pop_back();
        if (object == nullptr)
            continue;
        if (++parts > max_parts) {
            read.problems.emplace_back("more than " + std::to_string(max_parts) +
                                       " parts: the rest not read");
            break;
        }
        if (GMIME_IS_MULTIPART(object)) {
            if (depth >= max_depth) {
                read.problems.emplace_back("parts nested deeper than " + std::to_string(max_depth) +
                                           " not read");
                continue;
            }
            GMimeMultipart* multipart = GMIME_MULTIPART(object);
            if (const char* prologue = g_mime_multipart_get_prologue(multipart);
                g_mime_multipart_get_count(multipart) == 0 && prologue != nullptr && stray_text.empty()) {
                stray_text = prologue; // its boundary never came: what there is, is this
                read.problems.emplace_back("a multipart whose boundary never appears");
            }
            for (int i = g_mime_multipart_get_count(multipart) - 1; i >= 0; --i)
                stack.emplace_back(g_mime_multipart_get_part(multipart, i), depth + 1);
        } else if (GMIME_IS_MESSAGE_PART(object)) {
            if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
                inner != nullptr && depth < max_depth)
                stack.emplace_back(g_mime_message_get_mime_part(inner), depth + 1);
        } else if (GMIME_IS_PART(object)) {
            GMimePart* part = GMIME_PART(object);
            GMimeContentType* type = g_mime_object_get_content_type(object);
            if (g_mime_part_is_attachment(part)) {
                const char* name = g_mime_part_get_filename(part);
                attachments.emplace_back(name != nullptr ? name : "unnamed");
            } else if (plain == nullptr && g_mime_content_type_is_type(type, "text", "plain")) {
                plain = part;
            } else if (html == nullptr && g_mime_content_type_is_type(type, "text", "html")) {
                html = part;
            }
        }
    }

    if (GMimePart* chosen = plain != nullptr ? plain : html; chosen != nullptr) {
        GMimeObject* object = GMIME_OBJECT(chosen);
        std::string text = without_carriage_returns(
            utf8_text(decoded_bytes(chosen), g_mime_object_get_content_type_parameter(object, "charset"),
                      read.problems));
        if (chosen == html) {
            text = html_to_text(text);
        } else if (const char* format = g_mime_object_get_content_type_parameter(object, "format");
                   format != nullptr && text::ascii_lowercase(format) == "flowed") {
            const char* delsp = g_mime_object_get_content_type_parameter(object, "delsp");
            text = from_flowed(text, delsp != nullptr && text::ascii_lowercase(delsp) == "yes");
        }
        while (text.ends_with('\n'))
            text.pop_back();
        read.text = std::move(text);
    } else if (!stray_text.empty()) {
        std::string text = without_carriage_returns(utf8_text(stray_text, nullptr, read.problems));
        while (text.ends_with('\n'))
            text.pop_back();
        read.text = std::move(text);
    }
    for (const std::string& name : attachments)
        read.text +=
            (read.text.empty() ? "" : "\n") + std::string("[attachment: ") + text::printable(name) + "]";
    if (read.text.size() > max_text) {
        read.text =
            std::string(text::utf8_prefix(read.text, max_text)) + "\n[…the rest of this mail was cut]";
        read.problems.emplace_back("text longer than " + std::to_string(max_text) + " bytes, cut");
    }
    return read;
}

} // namespace ferry::connectors::email
