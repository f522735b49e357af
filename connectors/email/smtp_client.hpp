#pragma once

#include "connectors/email/email_settings.hpp"
#include "connectors/email/smtp_codec.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>

namespace ferry::connectors::email {

class SmtpConnection;

/// What became of one mail handed to the relay.
struct Submission {
    enum class Outcome {
        accepted,  ///< 250 after the data: the relay has it
        transient, ///< 4xx, or the relay could not be reached or went away: try again later
        refused,   ///< 5xx: it never will
    };
    Outcome outcome = Outcome::transient;
    std::string detail;  ///< the relay's reply (`550 5.1.1 …`) or what went wrong on the way
    bool reused = false; ///< sent on a connection an earlier mail opened
};

/// Limits of the client's connections.
struct SmtpClientOptions {
    std::chrono::milliseconds connect_timeout{15000};
    std::chrono::milliseconds reply_timeout{60000};
    std::chrono::milliseconds data_timeout{
        600000}; ///< for the reply after the data (RFC 5321 section 4.5.3.2.6)
    std::size_t mails_per_connection = 100;
    std::chrono::milliseconds connection_age{300000}; ///< a connection older than this is not reused
    std::chrono::milliseconds idle_limit{30000};      ///< nor one idle for longer (servers drop them)
    std::size_t idle_connections = 4;                 ///< kept open between mails
};

/// SMTP to the organisation's relay on the event loop: STARTTLS (or TLS from the first byte) with the relay's
/// certificate verified, AUTH PLAIN, connections reused across mails within the limits, one recipient per
/// transaction. Never throws from submit(): every failure is a Submission.
class SmtpClient {
public:
    SmtpClient(boost::asio::any_io_executor executor, EmailSettings settings, SmtpClientOptions options = {});
    ~SmtpClient();
    SmtpClient(const SmtpClient&) = delete;
    SmtpClient& operator=(const SmtpClient&) = delete;

    /// Sends `mail` (RFC 5322 bytes, CRLF) from the return path `from` to `to`.
    boost::asio::awaitable<Submission> submit(std::string from, std::string to, std::string mail);
    /// Connections opened so far (for tests and the log).
    std::size_t connections_opened() const { return opened_; }

private:
    static bool answered_by_relay(const Submission& done);
    void keep(std::unique_ptr<SmtpConnection> connection);
    boost::asio::awaitable<Submission> submit_on(SmtpConnection& connection, const std::string& from,
                                                 const std::string& to, const std::string& mail);

    boost::asio::any_io_executor executor_;
    EmailSettings settings_;
    SmtpClientOptions options_;
    std::deque<std::unique_ptr<SmtpConnection>> idle_;
    std::size_t opened_ = 0;
};

} // namespace ferry::connectors::email
