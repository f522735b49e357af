#include "bridge/net/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <tuple>

namespace ferry::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

Transport::Transport(asio::any_io_executor executor) : executor_(executor), socket_(executor) {}

asio::awaitable<void> Transport::connect(std::string host, std::uint16_t port, bool tls, bool verify,
                                         std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(executor_, timeout);
    const auto expired = [&]() -> asio::awaitable<void> {
        co_await deadline.async_wait(asio::use_awaitable);
        throw boost::system::system_error(asio::error::timed_out, "connecting to " + host);
    };

    // as_tuple: a failed resolve or a refused connection must end the race at once, not wait for the timer.
    tcp::resolver resolver(executor_);
    const auto resolved = co_await (
        resolver.async_resolve(host, std::to_string(port), asio::as_tuple(asio::use_awaitable)) || expired());
    const auto [resolve_error, endpoints] = std::get<0>(resolved);
    if (resolve_error)
        throw boost::system::system_error(resolve_error, "resolving " + host);
    const auto connected =
        co_await (asio::async_connect(socket_, endpoints, asio::as_tuple(asio::use_awaitable)) || expired());
    const auto [connect_error, endpoint] = std::get<0>(connected);
    if (connect_error)
        throw boost::system::system_error(connect_error, "connecting to " + host);
    socket_.set_option(tcp::no_delay(true));
    peer_ = host + ":" + std::to_string(port);
    if (endpoint.address().to_string() != host)
        peer_ += " (" + endpoint.address().to_string() + ")";

    host_ = host;
    if (tls)
        co_await start_tls(verify, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline.expiry() - asio::steady_timer::clock_type::now()));
}

asio::awaitable<void> Transport::start_tls(bool verify, std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(executor_, timeout);
    const auto expired = [&]() -> asio::awaitable<void> {
        co_await deadline.async_wait(asio::use_awaitable);
        throw boost::system::system_error(asio::error::timed_out, "TLS handshake with " + host_);
    };
    tls_context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    if (ca_file_.empty())
        tls_context_->set_default_verify_paths();
    else
        tls_context_->load_verify_file(ca_file_);
    tls_context_->set_verify_mode(verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
    if (verify)
        tls_context_->set_verify_callback(asio::ssl::host_name_verification(host_));
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket_), *tls_context_);
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str()))
        throw boost::system::system_error(asio::error::invalid_argument, "TLS server name " + host_);
    const auto handshake = co_await (
        tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
        expired());
    if (const auto [tls_error] = std::get<0>(handshake); tls_error)
        throw boost::system::system_error(tls_error, "TLS handshake with " + host_);
}

asio::awaitable<std::size_t> Transport::read_some(asio::mutable_buffer buffer) {
    if (tls_)
        co_return co_await tls_->async_read_some(buffer, asio::use_awaitable);
    co_return co_await socket_.async_read_some(buffer, asio::use_awaitable);
}

asio::awaitable<void> Transport::write(const std::vector<asio::const_buffer>& buffers) {
    if (tls_)
        co_await asio::async_write(*tls_, buffers, asio::use_awaitable);
    else
        co_await asio::async_write(socket_, buffers, asio::use_awaitable);
}

asio::awaitable<void> Transport::write(asio::const_buffer buffer) {
    if (tls_)
        co_await asio::async_write(*tls_, buffer, asio::use_awaitable);
    else
        co_await asio::async_write(socket_, buffer, asio::use_awaitable);
}

asio::awaitable<std::size_t> Transport::read_some(asio::mutable_buffer buffer,
                                                  boost::system::error_code& error) {
    std::size_t n = 0;
    if (tls_)
        std::tie(error, n) = co_await tls_->async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
    else
        std::tie(error, n) = co_await socket_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
    co_return n;
}

void Transport::close() {
    boost::system::error_code ignored; // closing a socket that is already gone is not an error here
    auto& socket = tls_ ? tls_->next_layer() : socket_;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

} // namespace ferry::net
