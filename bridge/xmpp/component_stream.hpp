#pragma once

#include "bridge/base/backoff.hpp"
#include "bridge/xmpp/delivery_ticket.hpp"
#include "bridge/xmpp/xml_node.hpp"
#include "bridge/xmpp/xml_stream_parser.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::core {
class Logger;
}

namespace ferry::net {
class Transport;
}

namespace ferry::xmpp {

using net::Transport;

struct ComponentSettings {
    std::string domain;
    std::string host = "localhost";
    std::uint16_t port = 5347;
    std::string secret;
    bool tls = false;
    bool tls_verify = true;
    ParserLimits limits;
    /// Largest stanza the server takes from a component (Prosody: 512 KiB; ejabberd: its max_stanza_size).
    /// A bigger one would make it close the stream: such a stanza is refused before it is sent.
    std::size_t server_max_stanza_size = 512 * 1024UL;
    /// How long after a stream was lost with unconfirmed deliveries each delivery is written on its own and
    /// confirmed on its own, so that a stanza the server refuses is told apart from those around it.
    std::chrono::milliseconds careful_period{60000};
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
///
/// Delivery confirmation: XEP-0114 has no acknowledgements, and a server closes the whole stream over one
/// stanza it refuses, losing what it had not yet processed. So after each write that carries stanzas sent
/// with a DeliveryTicket, the writer adds a barrier: a ping from our domain to our domain. The server
/// processes one stream's stanzas in order, so its echo of the barrier proves that it processed everything
/// written before it, and the tickets of those stanzas are confirmed. When the stream ends first, their
/// tickets are lost (to be sent again); for a while afterwards each ticketed stanza gets a barrier of its
/// own.
class ComponentStream {
public:
    using StanzaHandler = std::function<void(XmlNode stanza)>;
    /// A stanza from the server that went over a parser limit and was skipped: its top element (addresses,
    /// id, type) and why.
    using RefusedHandler = std::function<void(const XmlNode& head, const std::string& reason)>;

    ComponentStream(boost::asio::any_io_executor executor, ComponentSettings settings, core::Logger& logger);
    ~ComponentStream();
    ComponentStream(const ComponentStream&) = delete;
    ComponentStream& operator=(const ComponentStream&) = delete;

    /// Every stanza the server sends us, except stream-level elements and our own keepalive answers.
    void on_stanza(StanzaHandler handler) { stanza_handler_ = std::move(handler); }
    /// Called each time a session is established (after the handshake), first connection and reconnections.
    void on_established(std::function<void()> handler) { established_handler_ = std::move(handler); }
    /// Stanzas from the server over a parser limit (skipped; the stream goes on).
    void on_refused(RefusedHandler handler) { refused_handler_ = std::move(handler); }

    /// Queues a stanza. While disconnected, up to send_queue_limit stanzas wait for the next connection;
    /// returns false (and logs) when the queue is full or the stanza is larger than the server takes, and the
    /// stanza was not accepted.
    /// With a ticket, the stanza is a delivery: it is sent only on an established stream (the ticket is lost
    /// otherwise, and the stanza not kept for the next one: its sender keeps it), and the ticket tells when
    /// the server has processed it.
    bool send(const XmlNode& stanza, const std::shared_ptr<DeliveryTicket>& ticket = nullptr);

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
    /// The tickets of stanzas written up to barrier `barrier` are confirmed.
    void confirm_through(std::uint64_t barrier);
    /// The session ended: tickets not confirmed are lost, ticketed stanzas not written are dropped.
    void lose_unconfirmed(const std::string& reason);
    std::string barrier_stanza(std::uint64_t barrier) const;

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

    struct Outgoing {
        std::string data;                       ///< the serialised stanza
        std::shared_ptr<DeliveryTicket> ticket; ///< set for deliveries
    };
    /// A ticketed stanza written (or being written), waiting for the echo of the barrier after it.
    struct Unconfirmed {
        std::uint64_t barrier = 0; ///< the barrier written after it
        std::shared_ptr<DeliveryTicket> ticket;
        bool alone = false; ///< written with a barrier of its own (careful period)
    };
    std::deque<Outgoing> pending_;    ///< stanzas not yet handed to the socket
    std::vector<Outgoing> in_flight_; ///< the batch being written; untracked ones requeued if the write fails
    std::deque<Unconfirmed> unconfirmed_;
    std::uint64_t barrier_counter_ = 0;
    std::chrono::steady_clock::time_point careful_until_{};
    std::vector<XmlNode> early_stanzas_; ///< arrived in the same read as the handshake's answer
    RefusedHandler refused_handler_;
    bool writing_ = false; ///< a write is on the socket right now
    std::string farewell_; ///< what to send before closing the socket (stream end, error)
    boost::asio::steady_timer writer_wakeup_;
    boost::asio::steady_timer retry_timer_;
    std::chrono::steady_clock::time_point last_received_;
    std::uint64_t keepalive_counter_ = 0;
};

} // namespace ferry::xmpp
