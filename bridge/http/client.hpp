#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::http {

/// One outbound request.
struct ClientRequest {
    std::string method = "POST";
    std::string url; ///< http:// or https:// only
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds timeout{30000}; ///< the whole exchange, connect included
    /// Loopback, private, link-local and other non-public addresses are refused (SSRF guard) unless set.
    bool allow_private = false;
};

/// What came back. `status` 0 means no HTTP answer at all; `error` then says why (refused, timed out,
/// TLS failure, a private address refused by the guard, …).
struct ClientResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers; ///< names lowercased, in order received
    std::string body;
    std::string error;
    bool refused = false; ///< never sent: the URL or the address it resolves to is not allowed

    /// The first value of a header (name in lowercase), or nullopt.
    std::optional<std::string_view> header(std::string_view lowercase_name) const;
};

struct ClientOptions {
    std::size_t max_connections_per_host = 8;
    std::size_t max_response_size = std::size_t{1024} * 1024; ///< larger answers are cut off: an error
    std::string user_agent = "ferry";
};

struct ClientState;

/// HTTP(S) requests with libcurl's multi interface driven by the io_context: no thread per request, one
/// connection cache (keep-alive reuse), TLS verification on, proxies from the environment (http_proxy,
/// https_proxy, no_proxy), redirects not followed. Host names are resolved on the executor before the
/// transfer and curl is pinned to the checked address, so a name cannot re-resolve to a private address
/// between the check and the connect.
class Client {
public:
    Client(boost::asio::any_io_executor executor, ClientOptions options = {});
    ~Client(); // NOLINT(bugprone-exception-escape): only a failed allocation could throw
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Performs one request. Never throws for network or HTTP failures: they are in the response.
    /// Cancelling the awaiting coroutine (e.g. a cancellation slot) abandons the transfer.
    boost::asio::awaitable<ClientResponse> perform(ClientRequest request);
    /// Transfers in flight.
    std::size_t active() const;

private:
    std::shared_ptr<ClientState> state_;
};

} // namespace ferry::http
