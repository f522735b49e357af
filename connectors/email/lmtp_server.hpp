#pragma once

#include "connectors/email/smtp_codec.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace ferry::core {
class Logger;
}

namespace ferry::connectors::email {

/// One mail as the MTA handed it over: the envelope and the bytes.
struct MailEnvelope {
    std::string sender;                  ///< MAIL FROM (empty for the null path `<>` of a bounce)
    std::vector<std::string> recipients; ///< accepted at RCPT, in order (duplicates kept)
};

/// What the listener asks of whoever takes the mail.
class MailIntake {
public:
    virtual ~MailIntake() = default;
    /// RCPT TO: empty when the recipient is taken, else the refusal (`550 5.1.1 …`).
    virtual std::optional<SmtpReply> check_recipient(std::string_view address) = 0;
    /// After the data: one reply per accepted recipient, in order, each given only once the mail is
    /// committed for that recipient (or known to be a duplicate).
    virtual boost::asio::awaitable<std::vector<SmtpReply>> deliver(const MailEnvelope& envelope,
                                                                   std::string mail) = 0;
    /// A recipient or a mail the session refused (at MAIL, RCPT or after the data), for the counters.
    virtual void refused(const SmtpReply& /*reply*/) {}
};

struct MailListenerOptions {
    bool smtp = false;                ///< speak SMTP (EHLO, one reply after the data) instead of LMTP
    std::size_t max_size = 26214400;  ///< announced as SIZE and enforced
    std::size_t max_recipients = 100; ///< per mail; more get 452 4.5.3
    std::chrono::milliseconds idle_limit{300000}; ///< without a command: 421 4.4.2 and closed
    std::size_t max_sessions = 64;                ///< more connections are told 421 4.3.2 and closed
};

/// Takes mail from the MTA over LMTP (RFC 2033) or SMTP (RFC 5321), on one address and port: PIPELINING,
/// ENHANCEDSTATUSCODES, 8BITMIME and SIZE offered; unknown recipients refused at RCPT; LMTP's one reply per
/// recipient after the data, each only after MailIntake::deliver gave it. Never accepts and then drops:
/// what the intake could not commit gets a 4xx, and the MTA tries again.
class MailListener {
public:
    MailListener(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint,
                 std::string domain, MailListenerOptions options, MailIntake& intake, core::Logger& logger);
    MailListener(const MailListener&) = delete;
    MailListener& operator=(const MailListener&) = delete;

    /// The address it listens on (the port chosen when 0 was given). Throws when it cannot listen.
    boost::asio::ip::tcp::endpoint open();
    /// Takes connections until stop(); returns once every session has ended.
    boost::asio::awaitable<void> run();
    void stop();

private:
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

    boost::asio::any_io_executor executor_;
    boost::asio::ip::tcp::endpoint endpoint_;
    std::string domain_;
    MailListenerOptions options_;
    MailIntake& intake_;
    core::Logger& logger_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::set<boost::asio::ip::tcp::socket*> sessions_; ///< closed by stop()
    bool stopping_ = false;
};

} // namespace ferry::connectors::email
