// The libcurl-multi client on the io_context, against Ferry's own HTTP server on loopback, and the SSRF
// guard's address ranges.
#include "bridge/base/logger.hpp"
#include "bridge/http/address_guard.hpp"
#include "bridge/http/client.hpp"
#include "bridge/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <gtest/gtest.h>

namespace ferry::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

/// One io_context running a Server and the test's client coroutine; the server stops when the test body
/// returns.
class ClientWorld {
public:
    explicit ClientWorld(Server::Handler handler)
        : server_(context_.get_executor(), ServerSettings{}, std::move(handler), logger_) {}

    void run(std::function<asio::awaitable<void>(Client&, std::string base)> body) {
        Client client(context_.get_executor());
        asio::co_spawn(context_, server_.run(), asio::detached);
        std::exception_ptr failure;
        asio::co_spawn(context_, body(client, "http://127.0.0.1:" + std::to_string(server_.port())),
                       [&](std::exception_ptr e) {
                           failure = e;
                           server_.stop();
                       });
        context_.run_for(20s);
        if (failure)
            std::rethrow_exception(failure);
    }

private:
    asio::io_context context_;
    core::Logger logger_{core::LogLevel::error};
    Server server_;
};

asio::awaitable<Response> echo(const Request& request) {
    Response response;
    response.status = request.path() == "/missing" ? 404 : 201;
    response.content_type = "text/plain";
    response.body = request.method + " " + request.target + " " + std::string(request.header("x-test")) +
                    " " + request.body;
    response.headers.emplace_back("Retry-After", "7");
    co_return response;
}

ClientRequest loopback(std::string url) {
    ClientRequest request;
    request.url = std::move(url);
    request.allow_private = true;
    return request;
}

TEST(HttpClient, PostsBodyAndHeadersAndReadsTheAnswer) {
    ClientWorld world(echo);
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        ClientRequest request = loopback(base + "/hooks/x?y=1");
        request.headers.emplace_back("X-Test", "yes");
        request.body = R"({"text":"hi"})";
        const ClientResponse response = co_await client.perform(request);
        EXPECT_EQ(response.error, "");
        EXPECT_EQ(response.status, 201);
        EXPECT_EQ(response.body, R"(POST /hooks/x?y=1 yes {"text":"hi"})");
        EXPECT_EQ(response.header("retry-after").value_or(""), "7");
        EXPECT_EQ(response.header("content-type").value_or(""), "text/plain");
    });
}

TEST(HttpClient, PutAndGetUseTheirMethods) {
    ClientWorld world(echo);
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        ClientRequest put = loopback(base + "/rooms/r/send/t1");
        put.method = "PUT";
        put.body = "{}";
        EXPECT_EQ((co_await client.perform(put)).body, "PUT /rooms/r/send/t1  {}");
        ClientRequest get = loopback(base + "/missing");
        get.method = "GET";
        const ClientResponse response = co_await client.perform(get);
        EXPECT_EQ(response.status, 404);
        EXPECT_EQ(response.body, "GET /missing  ");
    });
}

TEST(HttpClient, ManyConcurrentRequestsAllComplete) {
    ClientWorld world(echo);
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        int done = 0;
        const auto executor = co_await asio::this_coro::executor;
        asio::steady_timer all(executor, asio::steady_timer::time_point::max());
        for (int i = 0; i < 200; ++i)
            asio::co_spawn(
                executor,
                [&client, &done, &all, base, i]() -> asio::awaitable<void> {
                    ClientRequest request = loopback(base + "/n/" + std::to_string(i));
                    const ClientResponse response = co_await client.perform(request);
                    EXPECT_EQ(response.status, 201) << response.error;
                    EXPECT_EQ(response.body, "POST /n/" + std::to_string(i) + "  ");
                    if (++done == 200)
                        all.cancel();
                },
                asio::detached);
        co_await all.async_wait(asio::as_tuple(asio::use_awaitable));
        EXPECT_EQ(done, 200);
        EXPECT_EQ(client.active(), 0u);
    });
}

TEST(HttpClient, TimeoutIsAnErrorNotAnAnswer) {
    ClientWorld world([](const Request&) -> asio::awaitable<Response> {
        asio::steady_timer pause(co_await asio::this_coro::executor, 1s);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return Response{};
    });
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        ClientRequest request = loopback(base + "/slow");
        request.timeout = 300ms;
        const auto started = std::chrono::steady_clock::now();
        const ClientResponse response = co_await client.perform(request);
        EXPECT_EQ(response.status, 0);
        EXPECT_NE(response.error.find("timed out"), std::string::npos) << response.error;
        EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    });
}

TEST(HttpClient, RefusedConnectionIsAnError) {
    ClientWorld world(echo);
    world.run([](Client& client, std::string) -> asio::awaitable<void> {
        // Port 1 on loopback: nothing listens there in the test world.
        const ClientResponse response = co_await client.perform(loopback("http://127.0.0.1:1/x"));
        EXPECT_EQ(response.status, 0);
        EXPECT_FALSE(response.error.empty());
    });
}

TEST(HttpClient, AnswerLargerThanTheLimitKeepsItsStatusButNotItsBody) {
    ClientWorld world([](const Request&) -> asio::awaitable<Response> {
        Response response;
        response.body.assign(std::size_t{2} * 1024 * 1024, 'x');
        co_return response;
    });
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        // The request was carried out: a 2xx must not look like a failure (a retry would send it again).
        const ClientResponse response = co_await client.perform(loopback(base + "/big"));
        EXPECT_EQ(response.status, 200);
        EXPECT_EQ(response.body, "");
        EXPECT_NE(response.error.find("larger than"), std::string::npos) << response.error;
    });
}

TEST(HttpClient, CancelledRequestEndsAtOnce) {
    ClientWorld world([](const Request&) -> asio::awaitable<Response> {
        asio::steady_timer pause(co_await asio::this_coro::executor, 1s);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return Response{};
    });
    world.run([](Client& client, std::string base) -> asio::awaitable<void> {
        asio::steady_timer deadline(co_await asio::this_coro::executor, 200ms);
        const auto started = std::chrono::steady_clock::now();
        const auto winner = co_await (client.perform(loopback(base + "/slow")) ||
                                      deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
        EXPECT_EQ(winner.index(), 1u);
        EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
        asio::steady_timer settle(co_await asio::this_coro::executor, 50ms);
        co_await settle.async_wait(asio::as_tuple(asio::use_awaitable));
        EXPECT_EQ(client.active(), 0u);
    });
}

TEST(HttpClient, PrivateAddressesAreRefusedUnlessAllowed) {
    int reached = 0;
    ClientWorld world([&reached](const Request& request) {
        ++reached;
        return echo(request);
    });
    world.run([&reached](Client& client, std::string base) -> asio::awaitable<void> {
        ClientRequest literal;
        literal.url = base + "/x";
        ClientResponse response = co_await client.perform(literal);
        EXPECT_EQ(response.status, 0);
        EXPECT_NE(response.error.find("loopback"), std::string::npos) << response.error;

        ClientRequest named;
        named.url = "http://localhost:" + base.substr(base.rfind(':') + 1) + "/x";
        response = co_await client.perform(named);
        EXPECT_EQ(response.status, 0);
        EXPECT_NE(response.error.find("may not reach"), std::string::npos) << response.error;

        ClientRequest metadata;
        metadata.url = "http://169.254.169.254/latest/meta-data/";
        response = co_await client.perform(metadata);
        EXPECT_NE(response.error.find("link-local"), std::string::npos) << response.error;

        ClientRequest mapped;
        mapped.url = "http://[::ffff:127.0.0.1]:80/";
        response = co_await client.perform(mapped);
        EXPECT_NE(response.error.find("loopback"), std::string::npos) << response.error;
        EXPECT_EQ(reached, 0);

        response = co_await client.perform(loopback(base + "/x"));
        EXPECT_EQ(response.status, 201);
        EXPECT_EQ(reached, 1);
    });
}

TEST(HttpClient, OnlyHttpAndHttpsUrls) {
    ClientWorld world(echo);
    world.run([](Client& client, std::string) -> asio::awaitable<void> {
        for (const char* url : {"file:///etc/passwd", "gopher://example.org/", "not a url", "http:///x"}) {
            const ClientResponse response = co_await client.perform(loopback(url));
            EXPECT_EQ(response.status, 0) << url;
            EXPECT_FALSE(response.error.empty()) << url;
        }
    });
}

TEST(AddressGuard, ClassifiesAddresses) {
    const auto reason = [](const char* text) {
        return std::string(non_public_reason(boost::asio::ip::make_address(text)));
    };
    for (const char* address : {"127.0.0.1",
                                "127.255.0.9",
                                "10.1.2.3",
                                "172.16.0.1",
                                "172.31.255.255",
                                "192.168.1.1",
                                "169.254.169.254",
                                "100.64.0.1",
                                "0.0.0.0",
                                "224.0.0.1",
                                "255.255.255.255",
                                "::1",
                                "::",
                                "fe80::1",
                                "fc00::1",
                                "fd12::1",
                                "::ffff:10.0.0.1",
                                "64:ff9b::7f00:1",
                                "ff02::1",
                                "2001:db8::1"})
        EXPECT_NE(reason(address), "") << address;
    for (const char* address : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                                "2606:4700::1111", "93.184.216.34"})
        EXPECT_EQ(reason(address), "") << address;
}

} // namespace
} // namespace ferry::http
