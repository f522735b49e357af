#include "connectors/email/mail_composer.hpp"

#include "connectors/email/flowed.hpp"
#include "connectors/email/gmime_support.hpp"
#include "connectors/email/header_text.hpp"
#include "connectors/formats/styling.hpp"

namespace ferry::connectors::email {

namespace {

constexpr std::size_t max_name_bytes = 200;
constexpr std::size_t max_subject_bytes = 400;
constexpr std::size_t max_references = 20; // the newest; enough for any client to thread by

struct DateTimeUnref {
    void operator()(GDateTime* date) const noexcept { g_date_time_unref(date); }
};

/// A text part whose content is `body` (UTF-8), written quoted-printable.
GPtr<GMimeTextPart> text_part(const char* subtype, const std::string& body) {
    GPtr<GMimeTextPart> part(g_mime_text_part_new_with_subtype(subtype));
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(body.data(), body.size()));
    GPtr<GMimeDataWrapper> content(
        g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
    g_mime_part_set_content(GMIME_PART(part.get()), content.get());
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part.get()), "charset", "utf-8");
    g_mime_part_set_content_encoding(GMIME_PART(part.get()), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    return part;
}

std::string html_document(const std::string& text) {
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n" +
           formats::styled(text, formats::Escape::html) + "\n</body></html>\n";
}

/// `<a> <b> …`: the ids that can be written as they are, the newest max_references of them.
std::string id_list(const std::vector<std::string>& ids) {
    std::vector<const std::string*> writable;
    for (const std::string& id : ids)
        if (is_writable_message_id(id))
            writable.push_back(&id);
    const std::size_t skip = writable.size() > max_references ? writable.size() - max_references : 0;
    std::string list;
    for (std::size_t i = skip; i < writable.size(); ++i)
        list += (list.empty() ? "<" : " <") + *writable[i] + ">";
    return list;
}

} // namespace

std::string compose_mail(const OutgoingMail& mail) {
    use_gmime();
    GPtr<GMimeMessage> message(g_mime_message_new(TRUE));
    GMimeObject* object = GMIME_OBJECT(message.get());
    const std::string from_name = header_phrase(mail.from_name, max_name_bytes);
    const std::string from = mail.from.text();
    const std::string to = mail.to.text();
    g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_FROM,
                               from_name.empty() ? nullptr : from_name.c_str(), from.c_str());
    g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_TO, nullptr, to.c_str());
    const std::string subject = header_phrase(mail.subject, max_subject_bytes);
    g_mime_message_set_subject(message.get(), subject.c_str(), "utf-8");
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(mail.date.time_since_epoch()).count();
    const std::unique_ptr<GDateTime, DateTimeUnref> date(g_date_time_new_from_unix_utc(seconds));
    g_mime_message_set_date(message.get(), date.get());
    if (is_writable_message_id(mail.message_id))
        g_mime_message_set_message_id(message.get(), mail.message_id.c_str());
    if (!mail.references.empty()) {
        if (const std::string replied = id_list({mail.references.back()}); !replied.empty())
            g_mime_object_set_header(object, "In-Reply-To", replied.c_str(), nullptr);
        if (const std::string thread = id_list(mail.references); !thread.empty())
            g_mime_object_set_header(object, "References", thread.c_str(), nullptr);
    }
    if (mail.auto_generated)
        g_mime_object_set_header(object, "Auto-Submitted", "auto-generated", nullptr);

    const GPtr<GMimeTextPart> plain = text_part("plain", to_flowed(mail.text));
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(plain.get()), "format", "flowed");
    const GPtr<GMimeTextPart> html = text_part("html", html_document(mail.text));
    const GPtr<GMimeMultipart> alternative(g_mime_multipart_new_with_subtype("alternative"));
    g_mime_multipart_add(alternative.get(), GMIME_OBJECT(plain.get()));
    g_mime_multipart_add(alternative.get(), GMIME_OBJECT(html.get()));
    g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(alternative.get()));

    const FormatOptions options(g_mime_format_options_new());
    g_mime_format_options_set_newline_format(options.get(), GMIME_NEWLINE_FORMAT_DOS);
    const GPtr<GMimeStream> out(g_mime_stream_mem_new());
    g_mime_object_write_to_stream(object, options.get(), out.get());
    const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return {reinterpret_cast<const char*>(bytes->data), bytes->len};
}

} // namespace ferry::connectors::email
