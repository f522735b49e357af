// Mail as Ferry reads it for XMPP: headers, the readable text whatever the charset, structure or damage,
// format=flowed, HTML-only mail, and bounds on what hostile mail can make it do.
#include "connectors/email/flowed.hpp"
#include "connectors/email/mail_reader.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::email {
namespace {

std::string headers(std::string_view content_type, std::string_view extra = "") {
    return "From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.de>\r\nTo: alice@chat.test\r\n"
           "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\nMessage-ID: <abc@example.de>\r\n"
           "In-Reply-To: <ferry.1@chat.test>\r\nReferences: <root@example.de> <ferry.1@chat.test>\r\n" +
           std::string(extra) + "MIME-Version: 1.0\r\nContent-Type: " + std::string(content_type) + "\r\n";
}

TEST(MailReader, HeadersDecoded) {
    const ReadMail read = read_mail(headers("text/plain; charset=utf-8") + "\r\nHallo Alice!\r\n");
    EXPECT_EQ(read.from, "juergen@example.de");
    EXPECT_EQ(read.from_name, "J\xc3\xbcrgen");
    EXPECT_EQ(read.subject, "Gr\xc3\xbc\xc3\x9f"
                            "e");
    EXPECT_EQ(read.message_id, "abc@example.de");
    EXPECT_EQ(read.references, (std::vector<std::string>{"root@example.de", "ferry.1@chat.test"}));
    EXPECT_EQ(read.text, "Hallo Alice!");
    EXPECT_FALSE(read.automatic);
    EXPECT_TRUE(read.problems.empty());
}

TEST(MailReader, CharsetsDeclaredThenUtf8ThenWindows1252) {
    EXPECT_EQ(read_mail(headers("text/plain; charset=iso-8859-1") + "\r\nGr\xfc\xdf"
                                                                    "e\r\n")
                  .text,
              "Gr\xc3\xbc\xc3\x9f"
              "e");
    const ReadMail lying = read_mail(headers("text/plain; charset=us-ascii") + "\r\ncaf\xc3\xa9\r\n");
    EXPECT_EQ(lying.text, "caf\xc3\xa9") << "declared ASCII, is UTF-8";
    EXPECT_EQ(lying.problems.size(), 1u);
    EXPECT_EQ(read_mail(headers("text/plain") + "\r\n\x93quoted\x94 \x80 5\r\n").text,
              "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac 5")
        << "undeclared, not UTF-8: windows-1252";
    EXPECT_EQ(read_mail(headers("text/plain; charset=no-such-charset") + "\r\nplain\r\n").text, "plain");
}

TEST(MailReader, AlternativePrefersPlainAndFlowedIsJoined) {
    const std::string mail = headers("multipart/alternative; boundary=b") +
                             "\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
                             "--b\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                             "A long line that was =\r\nwrapped \r\nby the client.\r\n> quoted \r\n"
                             ">  stuffed\r\n--b--\r\n";
    EXPECT_EQ(read_mail(mail).text, "A long line that was wrapped by the client.\n> quoted  stuffed");
}

TEST(MailReader, AttachmentsAreNamedNotDropped) {
    const std::string mail =
        headers("multipart/mixed; boundary=m") +
        "\r\n--m\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"
        "--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--\r\n";
    EXPECT_EQ(read_mail(mail).text, "See the file.\n[attachment: report.pdf]");
}

TEST(MailReader, DamageLosesNoReadableText) {
    const std::string broken_boundary =
        headers("multipart/mixed; boundary=never-used") + "\r\nThis is the body anyway.\r\n";
    EXPECT_NE(read_mail(broken_boundary).text.find("This is the body anyway."), std::string::npos);
    const std::string bad_base64 =
        headers("text/plain; charset=utf-8", "Content-Transfer-Encoding: base64\r\n") +
        "\r\nSGVsbG8gd29y!!bGQ=\r\n";
    EXPECT_NE(read_mail(bad_base64).text.find("Hello wor"), std::string::npos);
    EXPECT_EQ(read_mail("").problems.size(), 1u) << "empty input: no crash, a problem named";
    EXPECT_EQ(read_mail("not a mail at all").text, "");
}

TEST(MailReader, DeepNestingIsBounded) {
    std::string mail = headers("multipart/mixed; boundary=b0") + "\r\n";
    const int depth = 200;
    for (int i = 1; i < depth; ++i)
        mail += "--b" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=b" +
                std::to_string(i) + "\r\n\r\n";
    mail += "--b" + std::to_string(depth - 1) + "\r\nContent-Type: text/plain\r\n\r\ndeep\r\n";
    const ReadMail read = read_mail(mail);
    EXPECT_EQ(read.text, "") << "deeper than 32: not looked into";
    ASSERT_FALSE(read.problems.empty());
    EXPECT_NE(read.problems.back().find("nested deeper than 32"), std::string::npos);
}

TEST(MailReader, AutomaticMailIsRecognised) {
    for (const char* header : {"Auto-Submitted: auto-replied\r\n", "Precedence: bulk\r\n",
                               "X-Autoreply: yes\r\n", "List-Id: <dev.lists.example.org>\r\n"})
        EXPECT_TRUE(read_mail(headers("text/plain", header) + "\r\nx\r\n").automatic) << header;
    EXPECT_FALSE(read_mail(headers("text/plain", "Auto-Submitted: no\r\n") + "\r\nx\r\n").automatic);
    EXPECT_TRUE(read_mail("From: MAILER-DAEMON@mx.example.org\r\n\r\nx\r\n").automatic);
}

TEST(HtmlToText, ReadableWithoutScriptsWithLinks) {
    EXPECT_EQ(html_to_text("<html><head><title>t</title><style>p{}</style></head><body><div>One</div><p>Two "
                           "<a href=\"https://x.example/\">link</a></p><script>alert(1)</script>"
                           "<ul><li>a</li><li>b</li></ul></body></html>"),
              "One\nTwo link <https://x.example/>\na\nb");
    EXPECT_EQ(html_to_text("<p>unclosed <b>bold"), "unclosed bold");
}

TEST(Flowed, ReadBackJoinsSoftLinesOfOneDepth) {
    EXPECT_EQ(from_flowed("one \ntwo\n> q1 \n> q2\n>> deep\nend\n", false),
              "one two\n> q1 q2\n>> deep\nend\n");
    EXPECT_EQ(from_flowed("del \nsp\n", true), "delsp\n");
    EXPECT_EQ(from_flowed("-- \nsig\n", false), "-- \nsig\n") << "the signature separator is no soft break";
    EXPECT_EQ(from_flowed(to_flowed(std::string(50, 'a') + " " + std::string(50, 'b')), false),
              std::string(50, 'a') + " " + std::string(50, 'b') + "\n");
}

} // namespace
} // namespace ferry::connectors::email
