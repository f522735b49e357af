#pragma once

#include "bridge/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Metrics;
class Hooks;

/// What Ferry serves over HTTP: `POST /hooks/<connector>` (Hooks), `GET /healthz` (200 when the
/// XMPP stream is established and PostgreSQL answers, 503 otherwise, with a JSON body saying which), and
/// `GET /metrics` (Prometheus text format). Anything else is 404 with a JSON reason.
class HttpApi {
public:
    using RejectedStanzas = std::function<std::map<std::string, std::uint64_t, std::less<>>()>;

    HttpApi(Hooks& hooks, Metrics& metrics, pg::Pool& pool, std::function<bool()> xmpp_online,
            RejectedStanzas rejected_stanzas);
    boost::asio::awaitable<http::Response> handle(const http::Request& request);
    /// The route a path belongs to, as /metrics names it: `/hooks`, `/healthz`, `/metrics`, `other`, or
    /// `none` for a response sent before any request was read.
    static std::string_view route_name(std::string_view path);

private:
    boost::asio::awaitable<http::Response> route(const http::Request& request);
    boost::asio::awaitable<http::Response> health();
    boost::asio::awaitable<http::Response> metrics();

    Hooks& hooks_;
    Metrics& metrics_;
    pg::Pool& pool_;
    std::function<bool()> xmpp_online_;
    RejectedStanzas rejected_stanzas_;
};

} // namespace ferry::core
