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

namespace ferry::net {

/// One TCP connection to a server (the XMPP server, a mail relay), optionally wrapped in TLS from the first
/// byte or later (STARTTLS). Errors are thrown as boost::system::system_error; the caller's session loop
/// catches them.
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
    /// Wraps the connection in TLS now (after the protocol's STARTTLS): the same handshake and checks as
    /// connect() with tls set, against the host connect() was given.
    boost::asio::awaitable<void> start_tls(bool verify, std::chrono::milliseconds timeout);
    /// Verifies servers by the CA certificates in this PEM file instead of the system's; before connecting.
    void trust_only(std::string ca_file) { ca_file_ = std::move(ca_file); }
    bool secured() const { return tls_ != nullptr; }
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
    std::string host_;
    std::string ca_file_;
    std::string peer_;
};

} // namespace ferry::net
