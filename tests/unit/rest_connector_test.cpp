// The REST connector in-process, with the Slack preset, against a fake Slack Web API served by Ferry's own
// HTTP server on loopback: what it sends, and what each kind of answer becomes.
#include "bridge/base/logger.hpp"
#include "bridge/http/client.hpp"
#include "bridge/http/server.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/rest_connector.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry::connectors::rest {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Outcome = DeliveryResult::Outcome;

/// A fake chat.postMessage: answers what the test gives it, and keeps the requests it was sent.
class FakeSlack {
public:
    http::Response answer;
    std::vector<http::Request> requests;

    http::Server::Handler handler() {
        return [this](const http::Request& request) -> asio::awaitable<http::Response> {
            requests.push_back(request);
            co_return answer;
        };
    }
};

http::Response json_answer(int status, const nlohmann::json& body) {
    http::Response response;
    response.status = status;
    response.body = body.dump();
    return response;
}

Delivery delivery(std::string text, std::string channel = "C0123") {
    core::Message message;
    message.source = "xmpp";
    message.from = "alice@example.org/phone";
    message.sender_name = "Alice";
    message.text = std::move(text);
    return Delivery{"0b7c6f8e-2f41-4a57-9d4c-1f6a3b2c9d10", std::move(channel), "mapping:1:out", message, 1};
}

/// Runs `body` with a RestConnector for the Slack preset pointed at the fake.
void with_slack(FakeSlack& fake, const std::function<asio::awaitable<void>(RestConnector&)>& body) {
    asio::io_context context;
    core::Logger logger(core::LogLevel::error);
    http::Server server(context.get_executor(), http::ServerSettings{}, fake.handler(), logger);
    http::Client client(context.get_executor());
    const nlohmann::json settings = {{"token", "xoxb-test"},
                                     {"base_url", "http://127.0.0.1:" + std::to_string(server.port())},
                                     {"allow_private", "yes"},
                                     {"pace_ms", "0"}};
    RestConnector connector(*find_preset("slack"), settings, client);
    asio::co_spawn(context, server.run(), asio::detached);
    std::exception_ptr failure;
    asio::co_spawn(context, body(connector), [&](std::exception_ptr e) {
        failure = e;
        server.stop();
    });
    context.run_for(20s);
    if (failure)
        std::rethrow_exception(failure);
}

TEST(RestConnector, PostsTheMessageAsTheServiceDocumentsAndTakesItsId) {
    FakeSlack fake;
    fake.answer = json_answer(200, {{"ok", true}, {"ts", "1700000000.000100"}});
    with_slack(fake, [&](RestConnector& connector) -> asio::awaitable<void> {
        const DeliveryResult result = co_await connector.send(delivery("hello *world*"));
        EXPECT_EQ(result.outcome, Outcome::delivered) << result.error;
        EXPECT_EQ(result.remote_id, "1700000000.000100");
    });
    ASSERT_EQ(fake.requests.size(), 1U);
    const http::Request& request = fake.requests.front();
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.path(), "/chat.postMessage");
    EXPECT_EQ(request.header("authorization"), "Bearer xoxb-test");
    const nlohmann::json body = nlohmann::json::parse(request.body);
    EXPECT_EQ(body.at("channel"), "C0123");
    EXPECT_EQ(body.at("text"), "hello *world*");
}

TEST(RestConnector, ARateLimitIsARetryAfterTheTimeTheServiceAsks) {
    FakeSlack fake;
    fake.answer = json_answer(429, {{"ok", false}, {"error", "ratelimited"}});
    fake.answer.headers.emplace_back("Retry-After", "3");
    with_slack(fake, [&](RestConnector& connector) -> asio::awaitable<void> {
        const DeliveryResult result = co_await connector.send(delivery("hi"));
        EXPECT_EQ(result.outcome, Outcome::retry);
        EXPECT_EQ(result.retry_after, std::optional<std::chrono::milliseconds>(3000ms));
    });
}

TEST(RestConnector, AServerErrorIsARetryAndTheSameRequestIsSentAgain) {
    FakeSlack fake;
    fake.answer = json_answer(503, {{"ok", false}, {"error", "service_unavailable"}});
    with_slack(fake, [&](RestConnector& connector) -> asio::awaitable<void> {
        EXPECT_EQ((co_await connector.send(delivery("again"))).outcome, Outcome::retry);
        EXPECT_EQ((co_await connector.send(delivery("again"))).outcome, Outcome::retry);
    });
    ASSERT_EQ(fake.requests.size(), 2U);
    EXPECT_EQ(fake.requests[0].body, fake.requests[1].body);
}

TEST(RestConnector, AnErrorTheServiceCallsPermanentIsADeadLetterWithItsReason) {
    FakeSlack fake;
    fake.answer = json_answer(200, {{"ok", false}, {"error", "channel_not_found"}});
    with_slack(fake, [&](RestConnector& connector) -> asio::awaitable<void> {
        const DeliveryResult result = co_await connector.send(delivery("lost", "C_GONE"));
        EXPECT_EQ(result.outcome, Outcome::failed);
        EXPECT_NE(result.error.find("channel_not_found"), std::string::npos) << result.error;
    });
}

TEST(RestConnector, AServiceThatDoesNotAnswerIsARetryNotAThrow) {
    asio::io_context context;
    http::Client client(context.get_executor());
    // A port nobody listens on: the connection is refused.
    const nlohmann::json settings = {{"token", "xoxb-test"},
                                     {"base_url", "http://127.0.0.1:9"},
                                     {"allow_private", "yes"},
                                     {"pace_ms", "0"}};
    RestConnector connector(*find_preset("slack"), settings, client);
    std::optional<DeliveryResult> result;
    asio::co_spawn(
        context, [&]() -> asio::awaitable<void> { result = co_await connector.send(delivery("anyone?")); },
        asio::detached);
    context.run_for(20s);
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->outcome, Outcome::retry);
    EXPECT_FALSE(result->error.empty());
}

} // namespace
} // namespace ferry::connectors::rest
