#include "connectors/email/smtp_client.hpp"

#include "bridge/net/transport.hpp"
#include "bridge/store/accounts/base64.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <optional>

namespace ferry::connectors::email {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

/// A reply that ends the session's attempt at a mail: the relay said no, or did not say what SMTP says.
struct RelayRefusal {
    SmtpReply reply;
};

bool offers(const SmtpReply& ehlo, std::string_view extension) {
    for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
        std::string word = ehlo.lines[i].substr(0, ehlo.lines[i].find(' '));
        for (char& c : word)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (word == extension)
            return true;
    }
    return false;
}

} // namespace

/// One session with the relay, from greeting to QUIT.
class SmtpConnection {
public:
    SmtpConnection(asio::any_io_executor executor, EmailSettings settings, SmtpClientOptions options)
        : executor_(executor), transport_(executor), settings_(std::move(settings)), options_(options) {}

    asio::awaitable<void> open() {
        if (!settings_.relay_ca.empty())
            transport_.trust_only(settings_.relay_ca);
        co_await transport_.connect(settings_.relay_host, settings_.relay_port,
                                    settings_.relay_tls == RelayTls::implicit, true,
                                    options_.connect_timeout);
        expect(co_await reply(options_.reply_timeout), 220);
        SmtpReply ehlo = co_await command("EHLO " + settings_.mail_domain, 250);
        if (settings_.relay_tls == RelayTls::starttls) {
            if (!offers(ehlo, "STARTTLS"))
                throw RelayRefusal{{530, "5.7.0", {"the relay offers no STARTTLS (relay_tls=starttls)"}}};
            co_await command("STARTTLS", 220);
            if (!buffer_.empty()) // bytes sent before TLS must not be read as if they came through it
                throw RelayRefusal{{554, "5.7.0", {"the relay sent more after its STARTTLS reply"}}};
            co_await transport_.start_tls(true, options_.connect_timeout);
            ehlo = co_await command("EHLO " + settings_.mail_domain, 250);
        }
        if (!settings_.user.empty()) {
            if (!offers(ehlo, "AUTH"))
                throw RelayRefusal{{530, "5.7.0", {"the relay offers no AUTH, but a user is set"}}};
            const std::string credentials = std::string(1, '\0') + settings_.user + '\0' + settings_.password;
            co_await command("AUTH PLAIN " + store::to_base64(credentials), 235);
        }
        opened_at_ = Clock::now();
    }

    asio::awaitable<Submission> submit(const std::string& from, const std::string& to,
                                       const std::string& mail) {
        last_used_ = Clock::now();
        ++mails_;
        co_await command("MAIL FROM:<" + from + ">", 250);
        // A refused recipient or DATA leaves a transaction open: RSET closes it, so the session can go on.
        std::optional<RelayRefusal> refused;
        try {
            co_await command("RCPT TO:<" + to + ">", 250);
            co_await command("DATA", 354);
        } catch (const RelayRefusal& refusal) {
            refused = refusal;
        }
        if (refused) {
            co_await command("RSET", 250);
            throw *refused;
        }
        co_await write(dot_stuffed(mail));
        const SmtpReply done = co_await reply(options_.data_timeout);
        expect(done, 250);
        co_return Submission{Submission::Outcome::accepted, done.summary(), false};
    }

    asio::awaitable<void> quit() {
        try {
            co_await command("QUIT", 221);
        } catch (...) { // it is closed below whatever the relay said
        }
        transport_.close();
    }

    void close() { transport_.close(); }

    bool reusable(const SmtpClientOptions& options) const {
        const auto now = Clock::now();
        return mails_ < options.mails_per_connection && now - opened_at_ < options.connection_age &&
               now - last_used_ < options.idle_limit;
    }

private:
    static void expect(const SmtpReply& got, int code) {
        if (got.code != code)
            throw RelayRefusal{got};
    }

    asio::awaitable<void> write(const std::string& bytes) {
        asio::steady_timer deadline(executor_, options_.reply_timeout);
        const auto result = co_await (transport_.write(asio::buffer(bytes)) ||
                                      deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (result.index() == 1)
            throw boost::system::system_error(asio::error::timed_out, "writing to the relay");
    }

    asio::awaitable<SmtpReply> reply(std::chrono::milliseconds timeout) {
        asio::steady_timer deadline(executor_, timeout);
        while (true) {
            if (auto got = ReplyReader::next(buffer_))
                co_return std::move(*got);
            std::array<char, 4096> chunk{};
            const auto result = co_await (transport_.read_some(asio::buffer(chunk)) ||
                                          deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (result.index() == 1)
                throw boost::system::system_error(asio::error::timed_out, "waiting for the relay's reply");
            buffer_.append(chunk.data(), std::get<0>(result));
        }
    }

    asio::awaitable<SmtpReply> command(const std::string& line, int code) {
        co_await write(line + "\r\n");
        SmtpReply got = co_await reply(options_.reply_timeout);
        expect(got, code);
        co_return got;
    }

    asio::any_io_executor executor_;
    net::Transport transport_;
    EmailSettings settings_;
    SmtpClientOptions options_;
    std::string buffer_;
    std::size_t mails_ = 0;
    Clock::time_point opened_at_ = Clock::now();
    Clock::time_point last_used_ = Clock::now();
};

SmtpClient::SmtpClient(asio::any_io_executor executor, EmailSettings settings, SmtpClientOptions options)
    : executor_(executor), settings_(std::move(settings)), options_(options) {}

SmtpClient::~SmtpClient() {
    for (auto& connection : idle_)
        connection->close();
}

asio::awaitable<Submission> SmtpClient::submit(std::string from, std::string to, std::string mail) {
    if (settings_.relay_host.empty())
        co_return Submission{Submission::Outcome::refused,
                             "the connector has no relay setting: it only receives", false};
    // A reused connection the relay has closed meanwhile fails before the relay took anything: then once more
    // on a new one.
    while (!idle_.empty()) {
        std::unique_ptr<SmtpConnection> connection = std::move(idle_.front());
        idle_.pop_front();
        if (!connection->reusable(options_)) {
            co_await connection->quit();
            continue;
        }
        Submission done = co_await submit_on(*connection, from, to, mail);
        done.reused = true;
        if (!answered_by_relay(done))
            continue; // closed meanwhile: try the next one, or a new one
        keep(std::move(connection));
        co_return done;
    }
    auto connection = std::make_unique<SmtpConnection>(executor_, settings_, options_);
    ++opened_;
    try {
        co_await connection->open();
    } catch (const RelayRefusal& refusal) {
        connection->close();
        // Whatever the relay says before a mail is about the session (TLS, AUTH): worth another try later.
        co_return Submission{Submission::Outcome::transient, "relay: " + refusal.reply.summary(), false};
    } catch (const std::exception& e) {
        connection->close();
        co_return Submission{Submission::Outcome::transient, std::string("relay: ") + e.what(), false};
    }
    Submission done = co_await submit_on(*connection, from, to, mail);
    if (answered_by_relay(done))
        keep(std::move(connection));
    co_return done;
}

bool SmtpClient::answered_by_relay(const Submission& done) {
    // A reply leaves the session ready for the next mail; anything else (an error on the way) closed it.
    return !done.detail.empty() && std::isdigit(static_cast<unsigned char>(done.detail.front())) != 0;
}

void SmtpClient::keep(std::unique_ptr<SmtpConnection> connection) {
    if (idle_.size() < options_.idle_connections)
        idle_.push_back(std::move(connection));
    else
        connection->close();
}

asio::awaitable<Submission> SmtpClient::submit_on(SmtpConnection& connection, const std::string& from,
                                                  const std::string& to, const std::string& mail) {
    try {
        co_return co_await connection.submit(from, to, mail);
    } catch (const RelayRefusal& refusal) {
        co_return Submission{refusal.reply.permanent() ? Submission::Outcome::refused
                                                       : Submission::Outcome::transient,
                             refusal.reply.summary(), false};
    } catch (const std::exception& e) {
        connection.close();
        co_return Submission{Submission::Outcome::transient, std::string("relay: ") + e.what(), false};
    }
}

} // namespace ferry::connectors::email
