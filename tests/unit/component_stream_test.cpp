// ComponentStream against a scripted server on loopback: the precise protocol cases that a real server
// cannot be made to produce on demand. The real-server suites live in tests/integration.
#include "bridge/base/logger.hpp"
#include "bridge/xmpp/component_stream.hpp"
#include "bridge/xmpp/handshake.hpp"
#include "bridge/xmpp/namespaces.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace ferry::xmpp {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

constexpr std::string_view secret = "s3cr3t";
constexpr std::string_view domain = "ferry.test";

/// The server end of one component connection, driven step by step by a test.
class ScriptedServer {
public:
    explicit ScriptedServer(tcp::socket socket) : socket_(std::move(socket)) {}

    /// Reads until `needle` has arrived; returns everything up to and including it.
    asio::awaitable<std::string> expect(std::string_view needle, std::chrono::milliseconds timeout = 3s) {
        asio::steady_timer deadline(socket_.get_executor(), timeout);
        for (;;) {
            if (const auto at = buffer_.find(needle); at != std::string::npos) {
                std::string consumed = buffer_.substr(0, at + needle.size());
                buffer_.erase(0, at + needle.size());
                co_return consumed;
            }
            char chunk[4096];
            auto result = co_await (socket_.async_read_some(asio::buffer(chunk), asio::use_awaitable) ||
                                    deadline.async_wait(asio::use_awaitable));
            if (result.index() == 1)
                throw std::runtime_error("timed out waiting for \"" + std::string(needle) +
                                         "\"; got: " + buffer_);
            buffer_.append(chunk, std::get<0>(result));
        }
    }

    asio::awaitable<void> send(std::string data) {
        co_await asio::async_write(socket_, asio::buffer(data), asio::use_awaitable);
    }

    /// Reads the stream header, answers with stream id `id`, checks the digest and accepts it.
    asio::awaitable<void> accept_handshake(std::string id = "abc123") {
        const std::string header = co_await expect(">");
        if (header.find("<?xml") != std::string::npos)
            co_await expect(">"); // the XML declaration came first
        co_await send("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                      "xmlns='jabber:component:accept' from='" +
                      std::string(domain) + "' id='" + id + "'>");
        co_await expect("<handshake>" + component_handshake_digest(id, secret) + "</handshake>");
        co_await send("<handshake/>");
    }

    tcp::socket& socket() { return socket_; }

private:
    tcp::socket socket_;
    std::string buffer_;
};

class ComponentStreamTest : public testing::Test {
protected:
    asio::io_context context;
    core::Logger logger{core::LogLevel::error};
    tcp::acceptor acceptor{context, {asio::ip::make_address("127.0.0.1"), 0}};
    std::optional<StreamOutcome> outcome;
    std::vector<XmlNode> received;
    std::string failure;
    bool script_done = false;

    ComponentSettings settings() {
        ComponentSettings s;
        s.domain = std::string(domain);
        s.host = "127.0.0.1";
        s.port = acceptor.local_endpoint().port();
        s.secret = std::string(secret);
        s.reconnect_min_delay = 50ms;
        s.reconnect_max_delay = 100ms;
        s.keepalive_interval = 10s;
        s.keepalive_timeout = 10s;
        s.connect_timeout = 2s;
        return s;
    }

    asio::awaitable<ScriptedServer> next_connection() {
        co_return ScriptedServer(co_await acceptor.async_accept(asio::use_awaitable));
    }

    /// Waits (polling the io_context) until cond() holds, at most `timeout`.
    asio::awaitable<void> until(std::function<bool()> cond, std::chrono::milliseconds timeout = 3s) {
        asio::steady_timer timer(context);
        for (auto waited = 0ms; !cond(); waited += 10ms) {
            if (waited > timeout)
                throw std::runtime_error("condition not reached in time");
            timer.expires_after(10ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    void run(ComponentStream& stream, std::function<asio::awaitable<void>()> script) {
        stream.on_stanza([this](XmlNode s) { received.push_back(std::move(s)); });
        asio::co_spawn(context, stream.run(), [this](std::exception_ptr, StreamOutcome o) { outcome = o; });
        asio::co_spawn(context, std::move(script), [this](std::exception_ptr e) {
            script_done = true;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    failure = x.what();
                }
            }
        });
        context.run_for(15s);
        EXPECT_TRUE(script_done) << "the script did not finish";
        EXPECT_EQ(failure, "");
    }
};

TEST_F(ComponentStreamTest, HandshakesThenExchangesStanzasAndClosesProperly) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.accept_handshake();
        co_await until([&] { return stream.connected(); });
        co_await server.send(
            "<message from='alice@localhost/x' to='bob@ferry.test' id='1'><body>hi</body></message>");
        co_await until([&] { return received.size() == 1; });
        XmlNode reply("message", "jabber:component:accept");
        reply.set_attribute("to", "alice@localhost/x").add_child("body").set_text("a < b");
        stream.send(reply);
        co_await server.expect("<message to='alice@localhost/x'><body>a &lt; b</body></message>");
        stream.stop();
        co_await server.expect("</stream:stream>");
        co_await server.send("</stream:stream>");
        co_await until([&] { return outcome.has_value(); });
    });
    EXPECT_EQ(outcome, StreamOutcome::stopped);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0].child("body")->text(), "hi");
}

TEST_F(ComponentStreamTest, RejectedSecretEndsRunWithNotAuthorized) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.expect(">");
        co_await server.expect(">");
        co_await server.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                             "xmlns='jabber:component:accept' id='x'>");
        co_await server.expect("</handshake>");
        co_await server.send("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                             "</stream:error></stream:stream>");
        co_await until([&] { return outcome.has_value(); });
    });
    EXPECT_EQ(outcome, StreamOutcome::not_authorized);
}

TEST_F(ComponentStreamTest, UnknownDomainEndsRunWithHostUnknown) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.expect(">");
        co_await server.expect(">");
        co_await server.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                             "xmlns='jabber:component:accept' id='x'><stream:error><host-unknown "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
        co_await until([&] { return outcome.has_value(); });
    });
    EXPECT_EQ(outcome, StreamOutcome::host_unknown);
}

TEST_F(ComponentStreamTest, StanzasSentWhileDisconnectedGoOutAfterReconnect) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        {
            ScriptedServer first = co_await next_connection();
            co_await first.accept_handshake("one");
            co_await until([&] { return stream.connected(); });
        } // the server drops the connection
        co_await until([&] { return !stream.connected(); });
        for (int i = 0; i < 3; ++i) {
            XmlNode m("message", "jabber:component:accept");
            m.set_attribute("to", "alice@localhost").set_attribute("id", "q" + std::to_string(i));
            EXPECT_TRUE(stream.send(m));
        }
        ScriptedServer second = co_await next_connection();
        co_await second.accept_handshake("two");
        co_await until([&] { return stream.connected(); });
        co_await second.expect("id='q0'/>");
        co_await second.expect("id='q1'/>");
        co_await second.expect("id='q2'/>");
        stream.stop();
        co_await second.expect("</stream:stream>");
    });
    EXPECT_EQ(outcome, StreamOutcome::stopped);
}

TEST_F(ComponentStreamTest, StopDuringConnectReturnsAtOnce) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection(); // accepts, never answers the header
        co_await server.expect(">");
        const auto started = std::chrono::steady_clock::now();
        stream.stop();
        co_await until([&] { return outcome.has_value(); }, 500ms);
        EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
    });
    EXPECT_EQ(outcome, StreamOutcome::stopped);
}

TEST_F(ComponentStreamTest, RefusedConnectionIsRetriedWithoutWaitingForTheTimeout) {
    ComponentSettings s = settings();
    acceptor.close(); // nothing listens on the port any more: connections are refused
    s.connect_timeout = 10s;
    const std::string log_path = testing::TempDir() + "/ferry-refused.log";
    std::remove(log_path.c_str());
    core::Logger file_logger(core::LogLevel::info, log_path);
    ComponentStream stream(context.get_executor(), s, file_logger);
    run(stream, [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(context, 600ms);
        co_await timer.async_wait(asio::use_awaitable);
        stream.stop();
        co_await until([&] { return outcome.has_value(); }, 500ms);
    });
    EXPECT_EQ(outcome, StreamOutcome::stopped);
    std::ifstream log(log_path);
    int attempts = 0;
    for (std::string line; std::getline(log, line);)
        attempts += line.find("Connection refused") != std::string::npos;
    EXPECT_GE(attempts, 2) << "each refused connection should be retried after the backoff alone";
}

TEST_F(ComponentStreamTest, SendQueueIsBoundedWhileDisconnected) {
    ComponentSettings s = settings();
    s.send_queue_limit = 2;
    ComponentStream stream(context.get_executor(), s, logger);
    XmlNode m("message", "jabber:component:accept");
    EXPECT_TRUE(stream.send(m));
    EXPECT_TRUE(stream.send(m));
    EXPECT_FALSE(stream.send(m));
    EXPECT_EQ(stream.queued(), 2u);
}

TEST_F(ComponentStreamTest, OversizedStanzaFromServerIsSkippedAndTheStreamGoesOn) {
    ComponentSettings s = settings();
    s.limits.max_stanza_size = 1024;
    ComponentStream stream(context.get_executor(), s, logger);
    std::vector<std::string> refused;
    stream.on_refused([&](const XmlNode& head, const std::string& reason) {
        refused.push_back(head.to_string(ns::component) + " " + reason);
    });
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.accept_handshake();
        co_await until([&] { return stream.connected(); });
        co_await server.send(
            "<message from='mallory@localhost/x' to='a@ferry.test' id='big' type='chat'><body>" +
            std::string(4096, 'x') + "</body></message><message from='b@localhost' id='next'/>");
        co_await until([&] { return received.size() == 1; });
        EXPECT_TRUE(stream.connected());
        stream.stop();
        co_await server.expect("</stream:stream>");
    });
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0], "<message from='mallory@localhost/x' to='a@ferry.test' id='big' type='chat'/> "
                          "stanza larger than the limit of 1024 bytes");
    EXPECT_EQ(received[0].attribute("id"), "next");
}

TEST_F(ComponentStreamTest, StanzaInTheSameReadAsTheHandshakeAnswerIsDelivered) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.expect(">");
        co_await server.expect(">");
        co_await server.send(
            "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
            "xmlns='jabber:component:accept' from='ferry.test' id='abc123'>");
        co_await server.expect("<handshake>" + component_handshake_digest("abc123", secret) + "</handshake>");
        co_await server.send("<handshake/><iq type='get' id='early' from='alice@localhost/x' to='ferry.test'>"
                             "<ping xmlns='urn:xmpp:ping'/></iq>");
        co_await until([&] { return received.size() == 1; });
        stream.stop();
        co_await server.expect("</stream:stream>");
    });
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0].attribute("id"), "early");
}

std::string barrier(int n) {
    return "<iq type='get' id='ferry-barrier-" + std::to_string(n) +
           "' from='ferry.test' to='ferry.test'><ping xmlns='urn:xmpp:ping'/></iq>";
}

XmlNode message(const std::string& id) {
    XmlNode m("message");
    m.set_attribute("to", "alice@localhost");
    m.set_attribute("from", "hook@ferry.test");
    m.set_attribute("id", id);
    m.add_child("body").set_text("hi");
    return m;
}

TEST_F(ComponentStreamTest, ADeliveryIsConfirmedOnlyWhenTheServerEchoesTheBarrierAfterIt) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    auto first = std::make_shared<DeliveryTicket>(context.get_executor());
    auto second = std::make_shared<DeliveryTicket>(context.get_executor());
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.accept_handshake();
        co_await until([&] { return stream.connected(); });
        EXPECT_TRUE(stream.send(message("m1"), first));
        EXPECT_TRUE(stream.send(message("m2"), second));
        // One write: both messages, then one barrier.
        const std::string written = co_await server.expect(barrier(1));
        EXPECT_NE(written.find("id='m1'"), std::string::npos);
        EXPECT_NE(written.find("id='m2'"), std::string::npos);
        EXPECT_EQ(first->state(), DeliveryTicket::State::pending);
        co_await server.send(barrier(1));
        co_await first->settled(3s);
        co_await second->settled(3s);
        stream.stop();
        co_await server.expect("</stream:stream>");
    });
    EXPECT_EQ(first->state(), DeliveryTicket::State::confirmed);
    EXPECT_EQ(second->state(), DeliveryTicket::State::confirmed);
}

TEST_F(ComponentStreamTest, DeliveriesNotConfirmedWhenTheStreamDiesAreLostThenWrittenOneByOne) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    auto lost = std::make_shared<DeliveryTicket>(context.get_executor());
    auto innocent = std::make_shared<DeliveryTicket>(context.get_executor());
    auto culprit = std::make_shared<DeliveryTicket>(context.get_executor());
    auto after = std::make_shared<DeliveryTicket>(context.get_executor());
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer first = co_await next_connection();
        co_await first.accept_handshake();
        co_await until([&] { return stream.connected(); });
        stream.send(message("m1"), lost);
        co_await first.expect(barrier(1));
        co_await first.send("<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                            "</stream:error></stream:stream>");
        co_await lost->settled(3s);
        EXPECT_EQ(lost->state(), DeliveryTicket::State::lost);
        EXPECT_FALSE(lost->suspect()) << "written in a batch: nothing tells it from the others";
        EXPECT_NE(lost->reason().find("not-well-formed"), std::string::npos) << lost->reason();

        // While disconnected a delivery is not queued: its sender keeps it.
        auto offline = std::make_shared<DeliveryTicket>(context.get_executor());
        EXPECT_FALSE(stream.send(message("m0"), offline));
        EXPECT_EQ(offline->state(), DeliveryTicket::State::lost);
        EXPECT_EQ(stream.queued(), 0u);

        ScriptedServer second = co_await next_connection();
        co_await second.accept_handshake();
        co_await until([&] { return stream.connected(); });
        // The careful period: each delivery with a barrier of its own.
        stream.send(message("m2"), innocent);
        stream.send(message("m3"), culprit);
        stream.send(message("m4"), after);
        const std::string one = co_await second.expect(barrier(2));
        EXPECT_NE(one.find("id='m2'"), std::string::npos);
        EXPECT_EQ(one.find("id='m3'"), std::string::npos);
        co_await second.expect(barrier(3));
        co_await second.send(barrier(2)); // m2 processed; m3 kills the stream
        co_await second.send("<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                             "</stream:error></stream:stream>");
        co_await after->settled(3s);
        stream.stop();
    });
    EXPECT_EQ(innocent->state(), DeliveryTicket::State::confirmed);
    EXPECT_EQ(culprit->state(), DeliveryTicket::State::lost);
    EXPECT_TRUE(culprit->suspect()) << "the first unconfirmed delivery, written alone";
    EXPECT_EQ(after->state(), DeliveryTicket::State::lost);
    EXPECT_FALSE(after->suspect());
}

TEST_F(ComponentStreamTest, AStanzaLargerThanTheServerTakesIsRefusedBeforeItIsSent) {
    ComponentSettings s = settings();
    s.server_max_stanza_size = 4096;
    ComponentStream stream(context.get_executor(), s, logger);
    auto ticket = std::make_shared<DeliveryTicket>(context.get_executor());
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer server = co_await next_connection();
        co_await server.accept_handshake();
        co_await until([&] { return stream.connected(); });
        XmlNode big = message("big");
        big.child("body")->set_text(std::string(5000, 'x'));
        EXPECT_FALSE(stream.send(big, ticket));
        EXPECT_TRUE(stream.send(message("small")));
        const std::string written = co_await server.expect("id='small'");
        EXPECT_EQ(written.find("id='big'"), std::string::npos);
        stream.stop();
        co_await server.expect("</stream:stream>");
    });
    EXPECT_EQ(ticket->state(), DeliveryTicket::State::refused);
    EXPECT_NE(ticket->reason().find("more than the 4096 the XMPP server takes"), std::string::npos)
        << ticket->reason();
}

TEST_F(ComponentStreamTest, RestrictedXmlFromServerIsRefused) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer first = co_await next_connection();
        co_await first.accept_handshake();
        co_await first.send("<?pi x?>");
        co_await first.expect("<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
        ScriptedServer second = co_await next_connection();
        co_await second.accept_handshake();
        co_await until([&] { return stream.connected(); });
        stream.stop();
        co_await second.expect("</stream:stream>");
    });
}

TEST_F(ComponentStreamTest, SilentServerIsDetectedByKeepaliveAndReconnected) {
    ComponentSettings s = settings();
    s.keepalive_interval = 200ms;
    s.keepalive_timeout = 200ms;
    ComponentStream stream(context.get_executor(), s, logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer first = co_await next_connection();
        co_await first.accept_handshake();
        // The ping goes to our own domain, which the server would route back to us; this one never answers.
        co_await first.expect(" <iq type='get' id='ferry-keepalive-1' from='ferry.test' to='ferry.test'>"
                              "<ping xmlns='urn:xmpp:ping'/></iq>");
        ScriptedServer second = co_await next_connection();
        co_await second.accept_handshake();
        // An answering server keeps the connection: echo two pings back.
        for (int i = 0; i < 2; ++i) {
            const std::string ping = co_await second.expect("</iq>");
            const auto start = ping.find("<iq");
            co_await second.send(ping.substr(start));
        }
        EXPECT_TRUE(stream.connected());
        EXPECT_TRUE(received.empty()) << "keepalive answers are not handed on";
        stream.stop();
        co_await second.expect("</stream:stream>");
    });
}

TEST_F(ComponentStreamTest, ServerClosingTheStreamCausesReconnect) {
    ComponentStream stream(context.get_executor(), settings(), logger);
    run(stream, [&]() -> asio::awaitable<void> {
        ScriptedServer first = co_await next_connection();
        co_await first.accept_handshake();
        co_await first.send(
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
            "</stream:stream>");
        co_await first.expect("</stream:stream>");
        ScriptedServer second = co_await next_connection();
        co_await second.accept_handshake();
        co_await until([&] { return stream.connected(); });
        stream.stop();
        co_await second.expect("</stream:stream>");
    });
    EXPECT_EQ(outcome, StreamOutcome::stopped);
}

} // namespace
} // namespace ferry::xmpp
