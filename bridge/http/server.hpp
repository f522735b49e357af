#pragma once

#include "bridge/http/http_types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ferry::core {
class Logger;
}

namespace ferry::http {

struct ServerState;

struct ServerSettings {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;                               ///< 0: a free port (tests read port())
    std::size_t max_body_size = std::size_t{1024} * 1024; ///< larger bodies get 413
    std::size_t max_connections = 256;                    ///< more at once get 503 and are closed
    std::size_t max_connections_per_address = 64;         ///< the same, for one client address
    std::chrono::milliseconds header_timeout{5000}; ///< from a request's first byte to the end of its headers
    std::chrono::milliseconds request_timeout{30000}; ///< to read one request, and idle keep-alive time
    std::string tls_certificate; ///< PEM chain file; with tls_key, HTTPS (TLS 1.2+) instead of HTTP
    std::string tls_key;         ///< PEM private key file
};

/// A small HTTP/1.1 server (Boost.Beast) on the io_context: one coroutine per connection, keep-alive,
/// a body size limit, bounds on concurrent connections (in all and per client address), timeouts (a short
/// one for the request line and headers, so clients trickling bytes cannot hold it). Every request goes to
/// one handler; a handler that throws gives 500 with a JSON reason. A HEAD request gets the GET answer's
/// headers without its body; a body in a transfer or content coding other than chunked gets 501 / 415.
class Server {
public:
    using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;
    /// Told of every response sent: the request's path (empty when no request could be read) and status.
    using ResponseObserver = std::function<void(std::string_view path, int status)>;

    /// Binds and listens at once (std::system_error naming the address when that fails; std::runtime_error
    /// naming the file when the TLS certificate or key cannot be loaded).
    Server(boost::asio::any_io_executor executor, ServerSettings settings, Handler handler,
           core::Logger& logger, ResponseObserver observer = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// The port it listens on.
    std::uint16_t port() const;
    /// Accepts until stop(); returns once every connection has ended.
    boost::asio::awaitable<void> run();
    /// Stops accepting and closes every connection.
    void stop();

private:
    std::shared_ptr<ServerState> state_; ///< shared with the connection coroutines
};

} // namespace ferry::http
