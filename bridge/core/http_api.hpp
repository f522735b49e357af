#pragma once

#include "bridge/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <functional>

namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Metrics;
class Webhooks;

/// What Ferry serves over HTTP: `POST /hooks/<connector>` (Webhooks), `GET /healthz` (200 when the
/// XMPP stream is established and PostgreSQL answers, 503 otherwise, with a JSON body saying which), and
/// `GET /metrics` (Prometheus text format). Anything else is 404 with a JSON reason.
class HttpApi {
public:
    HttpApi(Webhooks& webhooks, Metrics& metrics, pg::Pool& pool, std::function<bool()> xmpp_online);
    boost::asio::awaitable<http::Response> handle(const http::Request& request);

private:
    boost::asio::awaitable<http::Response> route(const http::Request& request);
    boost::asio::awaitable<http::Response> health();
    boost::asio::awaitable<http::Response> metrics();

    Webhooks& webhooks_;
    Metrics& metrics_;
    pg::Pool& pool_;
    std::function<bool()> xmpp_online_;
};

} // namespace ferry::core
