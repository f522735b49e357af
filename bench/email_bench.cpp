// Micro-benchmarks of the mail family's CPU work per mail: reading a mail arriving for XMPP (GMime parse, the
// walk, charset decoding, format=flowed, HTML made text) on a mixed corpus, and writing one for an XMPP
// message (headers, flowed text, HTML from styling). The SMTP and LMTP round trips are not in here. Run:
// build-bench/ferry_bench --benchmark_filter=Mail Figures and how to read them: docs/performance.md.

#include "connectors/email/mail_composer.hpp"
#include "connectors/email/mail_reader.hpp"

#include <benchmark/benchmark.h>
#include <string>
#include <vector>

namespace {

using namespace ferry::connectors::email;

/// About 5 KB of prose, in lines as mail clients write them.
std::string prose() {
    std::string text;
    while (text.size() < 5000)
        text +=
            "The quick brown fox jumps over the lazy dog, and then it thinks about the meeting at ten.\r\n";
    return text;
}

std::string head(std::string_view content_type) {
    return "From: Bob Example <bob@example.com>\r\nTo: alice@chat.example.org\r\nSubject: Weekly report\r\n"
           "Message-ID: <bench@example.com>\r\nReferences: <a@example.com> <b@example.com>\r\n"
           "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: " +
           std::string(content_type) + "\r\n\r\n";
}

/// The mixed corpus: plain UTF-8, flowed quoted-printable in multipart/alternative with HTML, HTML only in
/// Latin-1, and a multipart/mixed with a base64 attachment.
std::vector<std::string> corpus() {
    const std::string text = prose();
    std::string html = "<html><body>";
    for (std::size_t at = 0; at < text.size(); at += 90)
        html += "<p>" + text.substr(at, 88) + " <a href=\"https://example.com/x\">link</a></p>";
    html += "</body></html>\r\n";
    std::string attachment;
    for (int i = 0; i < 40; ++i)
        attachment += "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+\r\n";
    return {
        head("text/plain; charset=utf-8") + text,
        head("multipart/alternative; boundary=alt") +
            "--alt\r\nContent-Type: text/plain; charset=utf-8; "
            "format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
            text + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "--alt--\r\n",
        head("text/html; charset=iso-8859-1") + html,
        head("multipart/mixed; boundary=mix") + "--mix\r\nContent-Type: text/plain\r\n\r\n" + text +
            "\r\n--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            "filename=r.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" +
            attachment + "--mix--\r\n",
    };
}

void BM_MailRead(benchmark::State& state) {
    const std::vector<std::string> mails = corpus();
    std::size_t i = 0;
    std::size_t bytes = 0;
    for (auto _ : state) {
        const std::string& mail = mails[i++ % mails.size()];
        ReadMail read = read_mail(mail);
        benchmark::DoNotOptimize(read);
        bytes += mail.size();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_MailRead);

void BM_MailCompose(benchmark::State& state) {
    OutgoingMail mail;
    mail.from = *parse_mail_address("alice@chat.example.org");
    mail.from_name = "Alice Example";
    mail.to = *parse_mail_address("bob@example.com");
    mail.date = std::chrono::system_clock::now();
    mail.message_id = "ferry.0123456789abcdef0123456789abcdef0123456789abcdef@chat.example.org";
    mail.references = {"a@example.com", "b@example.com"};
    mail.subject = "Chat with Alice Example";
    mail.text = "Hello *Bob*, the build is _green_ again.\n> did it pass?\nYes, all of it.";
    for (auto _ : state) {
        std::string bytes = compose_mail(mail);
        benchmark::DoNotOptimize(bytes);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MailCompose);

} // namespace
