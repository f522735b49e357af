// The HTTP server on loopback, driven by a plain blocking client: keep-alive, limits, refusals, stop().
#include "bridge/base/logger.hpp"
#include "bridge/http/server.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// A server running on its own thread for the length of a test.
class Running {
public:
    explicit Running(ServerSettings settings, Server::Handler handler = echo) {
        settings.address = "127.0.0.1";
        server_.emplace(context_.get_executor(), settings, std::move(handler), logger_,
                        [this](std::string_view path, int status) {
                            const std::lock_guard lock(mutex_);
                            responses_.push_back(std::string(path) + " " + std::to_string(status));
                        });
        asio::co_spawn(context_, server_->run(), [this](std::exception_ptr) { ended_ = true; });
        thread_ = std::thread([this] { context_.run(); });
    }
    ~Running() {
        stop();
        thread_.join();
    }
    void stop() {
        asio::post(context_, [this] { server_->stop(); });
    }
    std::uint16_t port() const { return server_->port(); }
    bool ended() const { return ended_; }
    /// "<path> <status>" of each response, as the observer saw them.
    std::vector<std::string> responses() const {
        const std::lock_guard lock(mutex_);
        return responses_;
    }

    static asio::awaitable<Response> echo(const Request& request) {
        Response response;
        response.content_type = "text/plain";
        response.body = request.method + " " + request.target + " " + std::string(request.header("x-test")) +
                        " " + request.body;
        co_return response;
    }

private:
    asio::io_context context_;
    core::Logger logger_{core::LogLevel::error};
    std::optional<Server> server_;
    std::thread thread_;
    std::atomic<bool> ended_ = false;
    mutable std::mutex mutex_;
    std::vector<std::string> responses_;
};

/// Sends `raw` and reads until the server closes or `responses` complete responses have arrived.
std::string round_trip(tcp::socket& socket, const std::string& raw, int responses = 1) {
    asio::write(socket, asio::buffer(raw));
    std::string got;
    char buffer[4096];
    for (;;) {
        boost::system::error_code error;
        const std::size_t n = socket.read_some(asio::buffer(buffer), error);
        got.append(buffer, n);
        int complete = 0;
        for (std::size_t at = 0; (at = got.find("HTTP/1.1 ", at)) != std::string::npos; ++at)
            ++complete;
        const auto last_header_end = got.rfind("\r\n\r\n");
        const auto length_at = got.rfind("Content-Length: ");
        if (complete >= responses && last_header_end != std::string::npos && length_at != std::string::npos) {
            const std::size_t length = std::stoul(got.substr(length_at + 16));
            if (got.size() >= last_header_end + 4 + length)
                return got;
        }
        if (error)
            return got;
    }
}

tcp::socket connect(std::uint16_t port, asio::io_context& io, const char* from = "127.0.0.1") {
    tcp::socket socket(io);
    socket.open(tcp::v4());
    socket.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return socket;
}

/// True when the server closed the connection (end of file) within `within`.
bool closed_by_server(tcp::socket& socket, std::chrono::milliseconds within) {
    socket.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + within;
    char byte;
    while (std::chrono::steady_clock::now() < deadline) {
        boost::system::error_code error;
        socket.read_some(asio::buffer(&byte, 1), error);
        if (error == asio::error::eof || error == asio::error::connection_reset)
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string two =
        "POST /hooks/a?x=1 HTTP/1.1\r\nHost: t\r\nX-Test: one\r\nContent-Length: 5\r\n\r\nhello"
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-TEST: two\r\n\r\n";
    const std::string got = round_trip(socket, two, 2);
    EXPECT_NE(got.find("POST /hooks/a?x=1 one hello"), std::string::npos) << got;
    EXPECT_NE(got.find("GET /healthz two "), std::string::npos) << got;
}

TEST(HttpServer, MalformedRequestGets400AndTheConnectionCloses) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got = round_trip(socket, "THIS IS NOT HTTP\r\n\r\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 400 Bad Request\r\n")) << got;
    EXPECT_NE(got.find("{\"error\":\"malformed HTTP request"), std::string::npos) << got;
}

TEST(HttpServer, BodyOverTheLimitGets413) {
    ServerSettings settings;
    settings.max_body_size = 1024;
    Running server(settings);
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got = round_trip(
        socket, "POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
    EXPECT_TRUE(got.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << got;
    EXPECT_NE(got.find("larger than 1024 bytes"), std::string::npos) << got;
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503WithRetryAfter) {
    ServerSettings settings;
    settings.max_connections = 1;
    Running server(settings);
    asio::io_context io;
    tcp::socket first = connect(server.port(), io);
    EXPECT_NE(round_trip(first, "GET / HTTP/1.1\r\nHost: t\r\n\r\n").find("200 OK"), std::string::npos);
    tcp::socket second = connect(server.port(), io);
    const std::string got = round_trip(second, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << got;
    EXPECT_NE(got.find("Retry-After: 1\r\n"), std::string::npos) << got;
}

TEST(HttpServer, HandlerFailureGets500WithAJsonReason) {
    Running server(ServerSettings{}, [](const Request&) -> asio::awaitable<Response> {
        throw std::runtime_error("boom");
        co_return Response{};
    });
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got = round_trip(socket, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << got;
    EXPECT_NE(got.find("{\"error\":\"internal error; see Ferry's log\"}"), std::string::npos) << got;
    EXPECT_EQ(got.find("boom"), std::string::npos) << "internal details leaked to the client";
}

TEST(HttpServer, StopClosesIdleConnectionsAndRunReturns) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket idle = connect(server.port(), io);
    EXPECT_NE(round_trip(idle, "GET / HTTP/1.1\r\nHost: t\r\n\r\n").find("200 OK"), std::string::npos);
    server.stop();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!server.ended() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(server.ended()) << "run() did not return after stop() with a keep-alive connection open";
    char byte;
    boost::system::error_code error;
    idle.read_some(asio::buffer(&byte, 1), error);
    EXPECT_TRUE(error) << "the idle connection was left open";
}

TEST(HttpServer, HeadGetsTheHeadersOfTheAnswerWithoutItsBody) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got =
        round_trip(socket, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n", 2);
    // The GET's answer follows the HEAD's headers at once: nothing else was written between them.
    const std::string head_answer = got.substr(0, got.find("HTTP/1.1 ", 1));
    EXPECT_TRUE(head_answer.ends_with("\r\n\r\n")) << got;
    EXPECT_NE(head_answer.find("Content-Length: 15\r\n"), std::string::npos)
        << "'HEAD /healthz  ' is 15 bytes: " << got;
    EXPECT_NE(got.find("GET /x  "), std::string::npos) << got;
}

TEST(HttpServer, CompressedTransferCodingGets501AndNothingReachesTheHandler) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got =
        round_trip(socket, "POST /hooks/a HTTP/1.1\r\nHost: t\r\n"
                           "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 501 Not Implemented\r\n")) << got;
    EXPECT_NE(got.find("Transfer-Encoding \\\"gzip,chunked\\\" is not supported"), std::string::npos) << got;
    EXPECT_EQ(got.find("hello"), std::string::npos) << got;
    EXPECT_EQ(server.responses(), std::vector<std::string>{"/hooks/a 501"});
}

TEST(HttpServer, PlainChunkedBodiesAreStillRead) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got = round_trip(socket, "POST /hooks/a HTTP/1.1\r\nHost: t\r\n"
                                               "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_NE(got.find("POST /hooks/a  hello"), std::string::npos) << got;
}

TEST(HttpServer, CompressedContentGets415) {
    Running server(ServerSettings{});
    asio::io_context io;
    tcp::socket socket = connect(server.port(), io);
    const std::string got =
        round_trip(socket, "POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\n"
                           "Content-Length: 5\r\n\r\nhello");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 415 Unsupported Media Type\r\n")) << got;
    EXPECT_NE(got.find("Accept-Encoding: identity\r\n"), std::string::npos) << got;
}

TEST(HttpServer, HeadersTricklingInAreCutOffAfterTheHeaderTimeout) {
    ServerSettings settings;
    settings.header_timeout = 300ms;
    Running server(settings);
    asio::io_context io;
    tcp::socket slow = connect(server.port(), io);
    asio::write(slow, asio::buffer(std::string("GET / HT")));
    EXPECT_TRUE(closed_by_server(slow, 3s)) << "a request begun and never finished held its connection";
    // An idle keep-alive connection is another matter: it may wait for its next request longer than that.
    tcp::socket idle = connect(server.port(), io);
    std::this_thread::sleep_for(600ms);
    EXPECT_NE(round_trip(idle, "GET / HTTP/1.1\r\nHost: t\r\n\r\n").find("200 OK"), std::string::npos);
}

TEST(HttpServer, ConnectionsOverTheLimitOfOneAddressGet503WhileOthersAreServed) {
    ServerSettings settings;
    settings.max_connections_per_address = 2;
    Running server(settings);
    asio::io_context io;
    tcp::socket a1 = connect(server.port(), io, "127.0.0.2");
    tcp::socket a2 = connect(server.port(), io, "127.0.0.2");
    asio::write(a1, asio::buffer(std::string("G")));
    asio::write(a2, asio::buffer(std::string("G")));
    std::this_thread::sleep_for(100ms);
    tcp::socket a3 = connect(server.port(), io, "127.0.0.2");
    EXPECT_TRUE(round_trip(a3, "GET / HTTP/1.1\r\nHost: t\r\n\r\n").starts_with("HTTP/1.1 503 "));
    tcp::socket other = connect(server.port(), io, "127.0.0.1");
    EXPECT_NE(round_trip(other, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").find("200 OK"),
              std::string::npos);
}

TEST(HttpServer, AnOverLimitConnectionReadsItsWhole503EvenAfterSendingABody) {
    ServerSettings settings;
    settings.max_connections = 1;
    Running server(settings);
    asio::io_context io;
    tcp::socket holder = connect(server.port(), io);
    asio::write(holder, asio::buffer(std::string("G")));
    std::this_thread::sleep_for(100ms);
    tcp::socket refused = connect(server.port(), io);
    boost::system::error_code error;
    asio::write(refused,
                asio::buffer("POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" +
                             std::string(100000, 'x')),
                error);
    std::string got;
    char buffer[4096];
    for (;;) {
        const std::size_t n = refused.read_some(asio::buffer(buffer), error);
        got.append(buffer, n);
        if (error)
            break;
    }
    EXPECT_EQ(error, asio::error::eof) << "not a clean close: " << error.message();
    EXPECT_TRUE(got.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << got;
    EXPECT_NE(got.find("too many connections"), std::string::npos) << got;
    EXPECT_EQ(server.responses(), std::vector<std::string>{" 503"});
}

} // namespace
} // namespace ferry::http
