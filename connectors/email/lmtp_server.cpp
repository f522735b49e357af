#include "connectors/email/lmtp_server.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

namespace ferry::connectors::email {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t max_command_line = 2048; // RFC 5321 says 512; some MTAs send long parameters

/// One connection's dialogue, from the greeting to QUIT.
class MailSession {
public:
    MailSession(tcp::socket& socket, const std::string& domain, const MailListenerOptions& options,
                MailIntake& intake)
        : socket_(socket), domain_(domain), options_(options), intake_(intake) {}

    asio::awaitable<void> run() {
        reply(220, "", domain_ + (options_.smtp ? " ESMTP" : " LMTP") + " Ferry ready");
        while (auto line = co_await read_line()) {
            if (!co_await handle(parse_command(*line)))
                break;
        }
        co_await flush();
    }

private:
    void reply(int code, std::string_view enhanced, std::string_view text) {
        out_ += format_reply(code, enhanced, text);
    }
    void reply(int code, std::string_view enhanced, const std::vector<std::string>& lines) {
        out_ += format_reply(code, enhanced, lines);
    }
    void reply(const SmtpReply& r) { out_ += format_reply(r.code, r.enhanced, r.lines); }

    /// Writes what is pending: before waiting for more input, so pipelined commands get their replies in one
    /// write (RFC 2920).
    asio::awaitable<void> flush() {
        if (out_.empty())
            co_return;
        std::string pending = std::move(out_);
        out_.clear();
        co_await asio::async_write(socket_, asio::buffer(pending), asio::use_awaitable);
    }

    /// Reads more into in_; false when the peer went away or stayed silent too long (told 421 first).
    asio::awaitable<bool> read_more() {
        co_await flush();
        asio::steady_timer idle(socket_.get_executor(), options_.idle_limit);
        std::array<char, 16384> chunk{};
        const auto result =
            co_await (socket_.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable)) ||
                      idle.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (result.index() == 1) {
            reply(421, "4.4.2", domain_ + " closing: idle too long");
            co_return false;
        }
        const auto [error, n] = std::get<0>(result);
        if (error)
            co_return false;
        in_.append(chunk.data(), n);
        co_return true;
    }

    asio::awaitable<std::optional<std::string>> read_line() {
        while (true) {
            if (const std::size_t eol = in_.find("\r\n"); eol != std::string::npos) {
                std::string line = in_.substr(0, eol);
                in_.erase(0, eol + 2);
                if (line.size() > max_command_line) {
                    reply(500, "5.5.2", "line too long");
                    continue;
                }
                co_return line;
            }
            if (in_.size() > 4 * max_command_line) {
                reply(500, "5.5.2", "line too long; closing");
                co_return std::nullopt;
            }
            if (!co_await read_more())
                co_return std::nullopt;
        }
    }

    void reset() {
        sender_.reset();
        recipients_.clear();
    }

    /// False when the session ends.
    asio::awaitable<bool> handle(const SmtpCommand& command) {
        const std::string& verb = command.verb;
        const bool hello = options_.smtp ? verb == "EHLO" : verb == "LHLO";
        if (hello) {
            reset();
            greeted_ = true;
            reply(250, "",
                  std::vector<std::string>{domain_, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME",
                                           "SIZE " + std::to_string(options_.max_size)});
        } else if (verb == "HELO" || verb == "EHLO" || verb == "LHLO") {
            if (options_.smtp) { // HELO: plain SMTP
                reset();
                greeted_ = true;
                reply(250, "", domain_);
            } else {
                reply(500, "5.5.1", "this is LMTP: say LHLO (RFC 2033)");
            }
        } else if (verb == "MAIL") {
            mail(command.argument);
        } else if (verb == "RCPT") {
            recipient(command.argument);
        } else if (verb == "DATA") {
            if (!sender_)
                reply(503, "5.5.1", "MAIL first");
            else if (recipients_.empty())
                reply(503, "5.5.1", "no valid recipients");
            else
                co_return co_await data();
        } else if (verb == "RSET") {
            reset();
            reply(250, "2.0.0", "Ok");
        } else if (verb == "NOOP") {
            reply(250, "2.0.0", "Ok");
        } else if (verb == "VRFY") {
            reply(252, "2.5.0", "cannot verify the user, but will take the mail and try");
        } else if (verb == "QUIT") {
            reply(221, "2.0.0", domain_ + " closing");
            co_return false;
        } else {
            reply(500, "5.5.2", "command not recognised");
        }
        co_return true;
    }

    void mail(const std::string& argument) {
        if (!greeted_) {
            reply(503, "5.5.1", options_.smtp ? "EHLO first" : "LHLO first");
            return;
        }
        if (sender_) {
            reply(503, "5.5.1", "a mail is already under way: RSET first");
            return;
        }
        auto path = parse_path(argument, "FROM:");
        if (auto* reason = std::get_if<std::string>(&path)) {
            reply(501, "5.5.4", *reason);
            return;
        }
        const SmtpPath& from = std::get<SmtpPath>(path);
        if (const auto size = from.parameters.find("SIZE"); size != from.parameters.end()) {
            std::size_t announced = 0;
            const auto [end, error] =
                std::from_chars(size->second.data(), size->second.data() + size->second.size(), announced);
            if (error == std::errc() && announced > options_.max_size) {
                intake_.refused(SmtpReply{552, "5.3.4", {}});
                reply(552, "5.3.4",
                      "message size exceeds the limit of " + std::to_string(options_.max_size) + " bytes");
                return;
            }
        }
        sender_ = from.address;
        reply(250, "2.1.0", "Ok");
    }

    void recipient(const std::string& argument) {
        if (!sender_) {
            reply(503, "5.5.1", "MAIL first");
            return;
        }
        auto path = parse_path(argument, "TO:");
        if (auto* reason = std::get_if<std::string>(&path)) {
            reply(501, "5.1.3", *reason);
            return;
        }
        if (recipients_.size() >= options_.max_recipients) {
            reply(452, "4.5.3", "too many recipients");
            return;
        }
        const std::string& address = std::get<SmtpPath>(path).address;
        if (auto refusal = intake_.check_recipient(address)) {
            intake_.refused(*refusal);
            reply(*refusal);
            return;
        }
        recipients_.push_back(address);
        reply(250, "2.1.5", "Ok");
    }

    asio::awaitable<bool> data() {
        reply(354, "", "End data with <CR><LF>.<CR><LF>");
        DataReader reader(options_.max_size);
        while (!reader.take(in_))
            if (!co_await read_more())
                co_return false;
        std::vector<SmtpReply> replies;
        if (reader.too_big()) {
            replies.assign(recipients_.size(), SmtpReply{552,
                                                         "5.3.4",
                                                         {"message size exceeds the limit of " +
                                                          std::to_string(options_.max_size) + " bytes"}});
        } else {
            const MailEnvelope envelope{*sender_, recipients_}; // not a temporary in co_await (GCC 12)
            replies = co_await intake_.deliver(envelope, std::move(reader.mail()));
            replies.resize(recipients_.size(), SmtpReply{451, "4.3.0", {"no answer for this recipient"}});
        }
        for (const SmtpReply& r : replies)
            if (!r.positive())
                intake_.refused(r);
        if (options_.smtp) { // one reply for all: the first that is not a success, or else the first
            const auto failed = std::find_if(replies.begin(), replies.end(),
                                             [](const SmtpReply& r) { return !r.positive(); });
            reply(failed != replies.end() ? *failed : replies.front());
        } else {
            for (const SmtpReply& r : replies)
                reply(r);
        }
        reset();
        co_return true;
    }

    tcp::socket& socket_;
    const std::string& domain_;
    const MailListenerOptions& options_;
    MailIntake& intake_;
    std::string in_;
    std::string out_;
    bool greeted_ = false;
    std::optional<std::string> sender_;
    std::vector<std::string> recipients_;
};

} // namespace

MailListener::MailListener(asio::any_io_executor executor, tcp::endpoint endpoint, std::string domain,
                           MailListenerOptions options, MailIntake& intake, core::Logger& logger)
    : executor_(executor), endpoint_(std::move(endpoint)), domain_(std::move(domain)), options_(options),
      intake_(intake), logger_(logger), acceptor_(executor) {}

tcp::endpoint MailListener::open() {
    acceptor_.open(endpoint_.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint_);
    acceptor_.listen();
    endpoint_ = acceptor_.local_endpoint();
    return endpoint_;
}

asio::awaitable<void> MailListener::run() {
    while (!stopping_) {
        auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
        if (stopping_)
            break;
        if (error) {
            logger_.warning("mail listener " + endpoint_.address().to_string() + ":" +
                            std::to_string(endpoint_.port()) + ": accept failed: " + error.message());
            asio::steady_timer pause(executor_, std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        if (sessions_.size() >= options_.max_sessions) {
            const std::string busy =
                format_reply(421, "4.3.2", domain_ + " too many connections, try again later");
            boost::system::error_code ignored;  // a refusal the peer may not read: it is closed either way
            socket.non_blocking(true, ignored); // never wait for a peer here
            asio::write(socket, asio::buffer(busy), ignored);
            continue;
        }
        asio::co_spawn(executor_, session(std::move(socket)), asio::detached);
    }
    while (!sessions_.empty()) {
        asio::steady_timer pause(executor_, std::chrono::milliseconds(20));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void MailListener::stop() {
    stopping_ = true;
    boost::system::error_code ignored; // closing what is already closed is fine here
    acceptor_.close(ignored);
    for (tcp::socket* socket : sessions_)
        socket->close(ignored);
}

asio::awaitable<void> MailListener::session(tcp::socket socket) {
    sessions_.insert(&socket);
    try {
        MailSession dialogue(socket, domain_, options_, intake_);
        co_await dialogue.run();
    } catch (const std::exception& e) {
        if (!stopping_)
            logger_.debug(std::string("mail session ended: ") + e.what());
    }
    sessions_.erase(&socket);
}

} // namespace ferry::connectors::email
