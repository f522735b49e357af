#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ferry::xmpp {

/// One TCP connection to the XMPP server, optionally wrapped in TLS from the first byte.
/// Errors are thrown as boost::system::system_error; the caller's session loop catches them.
class Transport {
public:
    explicit Transport(boost::asio::any_io_executor executor);
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    /// Resolves host (IPv4 and IPv6), connects to the first address that answers, sets TCP_NODELAY and,
    /// when tls is set, performs the TLS handshake (SNI, certificate and host name verified unless verify is
    /// off). Gives up after timeout.
    boost::asio::awaitable<void> connect(std::string host, std::uint16_t port, bool tls, bool verify,
                                         std::chrono::milliseconds timeout);
    boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer);
    /// As above, reporting failure through `error` instead of throwing.
    boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer,
                                                  boost::system::error_code& error);
    boost::asio::awaitable<void> write(const std::vector<boost::asio::const_buffer>& buffers);
    boost::asio::awaitable<void> write(boost::asio::const_buffer buffer);
    /// Closes the socket; pending operations complete with operation_aborted.
    void close();
    /// "host:port" as connected, for log lines.
    const std::string& peer() const { return peer_; }

private:
    boost::asio::any_io_executor executor_;
    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<boost::asio::ssl::context> tls_context_;
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    std::string peer_;
};

} // namespace ferry::xmpp
