#pragma once

#include "bridge/core/backoff.hpp"
#include "bridge/xmpp/xml_node.hpp"
#include "bridge/xmpp/xml_stream_parser.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::core {
class Logger;
}

namespace ferry::xmpp {

class Transport;

struct ComponentSettings {
    std::string domain;
    std::string host = "localhost";
    std::uint16_t port = 5347;
    std::string secret;
    bool tls = false;
    bool tls_verify = true;
    ParserLimits limits;
    std::chrono::milliseconds reconnect_min_delay{1000};
    std::chrono::milliseconds reconnect_max_delay{60000};
    std::chrono::milliseconds keepalive_interval{60000};
    std::chrono::milliseconds keepalive_timeout{20000};
    std::chrono::milliseconds connect_timeout{10000};
    std::size_t send_queue_limit = 10000;
};

/// How ComponentStream::run() ended.
enum class StreamOutcome {
    stopped,        ///< stop() was called; the stream was closed properly
    not_authorized, ///< the server rejected the secret: retrying cannot help
    host_unknown,   ///< the server does not serve our domain: retrying cannot help
};

/// The XEP-0114 connection to the XMPP server: connect, stream header, handshake, read loop, write queue,
/// keepalive, reconnect with backoff. Knows nothing about what the stanzas mean.
class ComponentStream {
public:
    using StanzaHandler = std::function<void(XmlNode stanza)>;

    ComponentStream(boost::asio::any_io_executor executor, ComponentSettings settings, core::Logger& logger);
    ~ComponentStream();
    ComponentStream(const ComponentStream&) = delete;
    ComponentStream& operator=(const ComponentStream&) = delete;

    /// Every stanza the server sends us, except stream-level elements and our own keepalive answers.
    void on_stanza(StanzaHandler handler) { stanza_handler_ = std::move(handler); }
    /// Called each time a session is established (after the handshake), first connection and reconnections.
    void on_established(std::function<void()> handler) { established_handler_ = std::move(handler); }

    /// Queues a stanza. While disconnected, up to send_queue_limit stanzas wait for the next connection;
    /// returns false (and logs) when the queue is full and the stanza was not accepted.
    bool send(const XmlNode& stanza);

    /// Connects and keeps connected until stop() or a fatal rejection; never throws.
    boost::asio::awaitable<StreamOutcome> run();

    /// Asks run() to finish: what is queued is written, the stream is closed, then run() returns.
    void stop();

    bool connected() const { return state_ == State::established; }
    std::size_t queued() const { return pending_.size(); }

private:
    enum class State { disconnected, handshaking, established };
    /// Why one connection ended.
    struct SessionEnd {
        std::optional<StreamOutcome> final_outcome; ///< set when run() must return
        std::string reason;
    };

    boost::asio::awaitable<SessionEnd> session();
    boost::asio::awaitable<SessionEnd> handshake(Transport& transport);
    boost::asio::awaitable<SessionEnd> read_loop(Transport& transport);
    boost::asio::awaitable<SessionEnd> write_loop(Transport& transport);
    boost::asio::awaitable<SessionEnd> keepalive_loop();
    boost::asio::awaitable<void> close_gracefully(Transport& transport);

    void handle_stanza(XmlNode stanza);
    void enqueue_raw(std::string data);
    void wake_writer();
    std::optional<SessionEnd> end_from_stream_error() const;

    boost::asio::any_io_executor executor_;
    ComponentSettings settings_;
    core::Logger& logger_;
    XmlStreamParser parser_;
    core::Backoff backoff_;
    StanzaHandler stanza_handler_;
    std::function<void()> established_handler_;

    State state_ = State::disconnected;
    Transport* transport_ = nullptr; ///< the current connection, closed by stop() before it is established
    bool stopping_ = false;
    std::string stream_id_;
    bool handshake_accepted_ = false;
    bool server_closed_stream_ = false;
    std::optional<std::pair<std::string, std::string>> stream_error_; ///< condition, text

    std::deque<std::string> pending_;    ///< serialised stanzas not yet handed to the socket
    std::vector<std::string> in_flight_; ///< the batch being written; requeued if the write fails
    bool writing_ = false;               ///< a write is on the socket right now
    std::string farewell_;               ///< what to send before closing the socket (stream end, error)
    boost::asio::steady_timer writer_wakeup_;
    boost::asio::steady_timer retry_timer_;
    std::chrono::steady_clock::time_point last_received_;
    std::uint64_t keepalive_counter_ = 0;
};

} // namespace ferry::xmpp
