// The mail Ferry writes for an XMPP message: its headers as a mail client reads them back, its flowed text
// and HTML, and that nothing an XMPP user controls can add or end a header.
#include "connectors/email/flowed.hpp"
#include "connectors/email/gmime_support.hpp"
#include "connectors/email/header_text.hpp"
#include "connectors/email/mail_composer.hpp"

#include <gtest/gtest.h>
#include <map>
#include <regex>

namespace ferry::connectors::email {
namespace {

TEST(Flowed, WrapsAtSpacesWithSoftBreaksAndKeepsHardOnes) {
    const std::string text = "The quick brown fox jumps over the lazy dog and keeps running far away.\nNext";
    EXPECT_EQ(to_flowed(text, 30), "The quick brown fox jumps \n"
                                   "over the lazy dog and keeps \n"
                                   "running far away.\n"
                                   "Next\n");
    EXPECT_EQ(to_flowed("trailing   \nspaces"), "trailing\nspaces\n")
        << "a hard break has no space before it";
    EXPECT_EQ(to_flowed(std::string(100, 'x') + " y", 72), std::string(100, 'x') + " \ny\n")
        << "a word longer than the line stays whole";
}

TEST(Flowed, QuotesBecomeFlowedQuotesAndLookalikesAreStuffed) {
    EXPECT_EQ(to_flowed("> quoted\n>> deeper\nreply"), "> quoted\n>> deeper\nreply\n");
    EXPECT_EQ(to_flowed("From here on\n indented"), " From here on\n  indented\n");
    EXPECT_EQ(to_flowed("-- \nAlice"), "-- \nAlice\n") << "the signature separator keeps its space";
    EXPECT_EQ(to_flowed("> " + std::string(40, 'a') + " " + std::string(40, 'b'), 50),
              "> " + std::string(40, 'a') + " \n> " + std::string(40, 'b') + "\n")
        << "a wrapped quote stays a quote";
}

TEST(HeaderText, NothingCanEndTheField) {
    EXPECT_EQ(header_safe("Hi\r\nBcc: victim@example.com", 100), "Hi Bcc: victim@example.com");
    EXPECT_EQ(header_safe("a\u2028b\u0085c\x7f"
                          "d\te",
                          100),
              "a b c d e");
    EXPECT_EQ(header_safe("  spaced   out  ", 100), "spaced out");
    EXPECT_EQ(header_safe("caf\xc3\xa9 \xff", 100), "caf\xc3\xa9 \xef\xbf\xbd");
    EXPECT_EQ(header_safe("\xc3\xa9\xc3\xa9\xc3\xa9", 5), "\xc3\xa9\xc3\xa9")
        << "cut on a character boundary";
    EXPECT_EQ(header_phrase("plain name", 100), "plain name");
    EXPECT_EQ(header_phrase("=?utf-8?q?CEO?=", 100), "=?utf-8?b?PT91dGYtOD9xP0NFTz89?=")
        << "shows as typed, not as the word it pretends to be";
    EXPECT_TRUE(is_writable_message_id("abc.123@example.com"));
    EXPECT_FALSE(is_writable_message_id("abc@example.com>\r\nBcc: x"));
    EXPECT_FALSE(is_writable_message_id("no-at-sign"));
    EXPECT_FALSE(is_writable_message_id("a b@example.com"));
}

OutgoingMail a_mail() {
    OutgoingMail mail;
    mail.from = *parse_mail_address("alice@chat.example.org");
    mail.from_name = "Alice Example";
    mail.to = *parse_mail_address("Bob@example.com");
    mail.date = std::chrono::system_clock::time_point(std::chrono::seconds(1796000000));
    mail.message_id = "ferry.0123abcd@chat.example.org";
    mail.subject = "Chat with Alice Example";
    mail.text = "Hello *Bob*, caf\xc3\xa9?\n> what you said";
    return mail;
}

/// A parsed mail, read as a client would.
struct Read {
    GPtr<GMimeMessage> message;
    std::string header(const char* name) const {
        const char* value = g_mime_object_get_header(GMIME_OBJECT(message.get()), name);
        return value != nullptr ? value : "(none)";
    }
};

Read read_back(const std::string& bytes) {
    use_gmime();
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    return {GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr))};
}

/// The header names of the top level, in order.
std::vector<std::string> header_names(const std::string& bytes) {
    std::vector<std::string> names;
    const std::string head = bytes.substr(0, bytes.find("\r\n\r\n"));
    std::size_t start = 0;
    while (start < head.size()) {
        std::size_t end = head.find("\r\n", start);
        if (end == std::string::npos)
            end = head.size();
        const std::string line = head.substr(start, end - start);
        if (!line.empty() && line[0] != ' ' && line[0] != '\t')
            names.push_back(line.substr(0, line.find(':')));
        start = end + 2;
    }
    return names;
}

TEST(MailComposer, WritesTheHeadersAClientReadsBack) {
    OutgoingMail mail = a_mail();
    mail.references = {"first@example.com", "ferry.0000@chat.example.org"};
    const std::string bytes = compose_mail(mail);
    EXPECT_EQ(bytes.find("\n"), bytes.find("\r\n") + 1);
    EXPECT_FALSE(std::regex_search(bytes, std::regex("[^\r]\n"))) << "CRLF only";
    const Read read = read_back(bytes);
    ASSERT_TRUE(read.message);
    EXPECT_EQ(read.header("From"), "Alice Example <alice@chat.example.org>");
    EXPECT_EQ(read.header("To"), "Bob@example.com");
    EXPECT_EQ(read.header("Subject"), "Chat with Alice Example");
    EXPECT_EQ(read.header("Date"), "Mon, 30 Nov 2026 00:53:20 +0000");
    EXPECT_EQ(std::string(g_mime_message_get_message_id(read.message.get())),
              "ferry.0123abcd@chat.example.org");
    EXPECT_EQ(read.header("In-Reply-To"), "<ferry.0000@chat.example.org>");
    EXPECT_EQ(read.header("References"), "<first@example.com> <ferry.0000@chat.example.org>");
    EXPECT_EQ(read.header("MIME-Version"), "1.0");
    EXPECT_EQ(read.header("Auto-Submitted"), "(none)") << "a person's message";

    GMimeObject* body = g_mime_message_get_mime_part(read.message.get());
    ASSERT_TRUE(GMIME_IS_MULTIPART(body));
    EXPECT_TRUE(
        g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart", "alternative"));
    ASSERT_EQ(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 2);
    GMimeObject* plain = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
    EXPECT_EQ(std::string(g_mime_object_get_content_type_parameter(plain, "format")), "flowed");
    EXPECT_EQ(std::string(g_mime_object_get_content_type_parameter(plain, "charset")), "utf-8");
    const GChars plain_text(g_mime_text_part_get_text(GMIME_TEXT_PART(plain)));
    EXPECT_EQ(std::string(plain_text.get()), "Hello *Bob*, caf\xc3\xa9?\r\n> what you said\r\n");
    GMimeObject* html = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
    const GChars html_text(g_mime_text_part_get_text(GMIME_TEXT_PART(html)));
    EXPECT_NE(std::string(html_text.get())
                  .find("Hello <strong>Bob</strong>, caf\xc3\xa9?<br><blockquote>what you said</blockquote>"),
              std::string::npos)
        << html_text.get();
}

TEST(MailComposer, NoXmppFieldCanAddOrEndAHeader) {
    OutgoingMail mail = a_mail();
    mail.from_name = "Alice\r\nBcc: victim@example.com";
    mail.subject = "Hi\nBcc: victim@example.com\r\n\r\nbody";
    mail.references = {"x@y>\r\nBcc: victim@example.com", "ok@example.com"};
    mail.text = "text\r\n.\r\nMAIL FROM:<x@y>";
    const std::string bytes = compose_mail(mail);
    const std::vector<std::string> names = header_names(bytes);
    const std::multiset<std::string> counted(names.begin(), names.end());
    for (const std::string& name : names)
        EXPECT_EQ(counted.count(name), 1u) << name << " appears more than once:\n" << bytes;
    EXPECT_EQ(counted.count("Bcc"), 0u) << bytes;
    const Read read = read_back(bytes);
    EXPECT_EQ(read.header("Subject"), "Hi Bcc: victim@example.com body");
    EXPECT_EQ(read.header("From"), "\"Alice Bcc: victim@example.com\" <alice@chat.example.org>");
    EXPECT_EQ(read.header("References"), "<ok@example.com>") << "an id that cannot be written is left out";

    mail = a_mail();
    mail.from_name = "=?utf-8?q?The_CEO?=";
    mail.subject = "=?utf-8?b?VXJnZW50?=";
    const Read spoof = read_back(compose_mail(mail));
    EXPECT_EQ(spoof.header("Subject"), "=?utf-8?b?VXJnZW50?=") << "shown as typed";
    const char* name = internet_address_get_name(
        internet_address_list_get_address(g_mime_message_get_from(spoof.message.get()), 0));
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(std::string(name), "=?utf-8?q?The_CEO?=");
}

TEST(MailComposer, WhatFerryWritesItselfSaysSo) {
    OutgoingMail mail = a_mail();
    mail.auto_generated = true;
    EXPECT_EQ(read_back(compose_mail(mail)).header("Auto-Submitted"), "auto-generated");
}

} // namespace
} // namespace ferry::connectors::email
