#include "bridge/core/http_api.hpp"

#include "bridge/core/hooks.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/pg/within.hpp"

#include <nlohmann/json.hpp>

namespace ferry::core {

namespace asio = boost::asio;
using http::json_error;
using http::Response;

namespace {

constexpr std::chrono::seconds database_check_timeout{2};
constexpr std::string_view hooks_prefix = "/hooks/";

/// What `sql` returns within the check's time limit, or nullopt when PostgreSQL does not answer.
asio::awaitable<std::optional<pg::Result>> ask(pg::Pool& pool, std::string_view sql) {
    try {
        auto result = co_await pg::within(database_check_timeout, [&]() -> asio::awaitable<pg::Result> {
            pg::Lease lease = co_await pool.acquire();
            co_return co_await lease->execute(sql);
        }());
        co_return result;
    } catch (const std::exception&) {
        co_return std::nullopt; // the database is the subject of the report, not a reason to fail it
    }
}

} // namespace

HttpApi::HttpApi(Hooks& hooks, Metrics& metrics, pg::Pool& pool, std::function<bool()> xmpp_online,
                 RejectedStanzas rejected_stanzas)
    : hooks_(hooks), metrics_(metrics), pool_(pool), xmpp_online_(std::move(xmpp_online)),
      rejected_stanzas_(std::move(rejected_stanzas)) {}

asio::awaitable<Response> HttpApi::handle(const http::Request& request) {
    co_return co_await route(request);
}

std::string_view HttpApi::route_name(std::string_view path) {
    if (path.empty())
        return "none";
    if (path.starts_with(hooks_prefix))
        return "/hooks";
    if (path == "/healthz" || path == "/metrics")
        return path;
    return "other";
}

asio::awaitable<Response> HttpApi::route(const http::Request& request) {
    const std::string_view path = request.path();
    if (path.starts_with(hooks_prefix) && path.size() > hooks_prefix.size()) {
        const std::string_view rest = path.substr(hooks_prefix.size());
        const std::size_t slash = rest.find('/');
        std::string_view subpath;
        if (slash != std::string_view::npos)
            subpath = rest.substr(slash);
        if (slash != 0)
            co_return co_await hooks_.handle(request, rest.substr(0, slash), subpath);
    }
    if (path == "/healthz" || path == "/metrics") {
        if (request.method != "GET" && request.method != "HEAD") {
            Response refused = json_error(405, std::string(path) + " takes GET");
            refused.headers.emplace_back("Allow", "GET, HEAD");
            co_return refused;
        }
        // Not a conditional expression: GCC 12 destroys a temporary twice when co_await is one of its arms.
        if (path == "/healthz")
            co_return co_await health();
        co_return co_await metrics();
    }
    co_return json_error(404,
                         "nothing here; Ferry serves POST /hooks/<connector>, GET /healthz and GET /metrics");
}

asio::awaitable<Response> HttpApi::health() {
    const bool xmpp = xmpp_online_();
    const bool database = (co_await ask(pool_, "SELECT 1")).has_value();
    Response response;
    response.status = xmpp && database ? 200 : 503;
    response.body = nlohmann::json{{"status", xmpp && database ? "ok" : "unavailable"},
                                   {"xmpp", xmpp ? "connected" : "disconnected"},
                                   {"database", database ? "ok" : "unreachable"}}
                        .dump() +
                    "\n";
    co_return response;
}

asio::awaitable<Response> HttpApi::metrics() {
    Metrics::Gauges gauges;
    gauges.xmpp_connected = xmpp_online_();
    if (rejected_stanzas_)
        gauges.xmpp_rejected = rejected_stanzas_();
    const auto sizes =
        co_await ask(pool_, "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM dead_letters)");
    if (sizes) {
        gauges.outbox_depth = std::stol(std::string(*sizes->get(0, 0)));
        gauges.dead_letters = std::stol(std::string(*sizes->get(0, 1)));
    }
    Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_.render(gauges);
    co_return response;
}

} // namespace ferry::core
