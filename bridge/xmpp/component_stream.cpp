#include "bridge/xmpp/component_stream.hpp"

#include "bridge/core/logger.hpp"
#include "bridge/xmpp/handshake.hpp"
#include "bridge/xmpp/namespaces.hpp"
#include "bridge/xmpp/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::xmpp {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view keepalive_id_prefix = "ferry-keepalive-";
constexpr std::size_t max_batch = 256;

std::string seconds_text(std::chrono::milliseconds duration) {
    const auto tenths = duration.count() / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

bool cancelled(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

} // namespace

ComponentStream::ComponentStream(asio::any_io_executor executor, ComponentSettings settings,
                                 core::Logger& logger)
    : executor_(executor), settings_(std::move(settings)), logger_(logger),
      parser_(settings_.limits,
              {.stream_opened = [this](const XmlNode& header) { stream_id_ = header.attribute("id"); },
               .stanza = [this](XmlNode stanza) { handle_stanza(std::move(stanza)); },
               .stream_closed = [this] { server_closed_stream_ = true; }}),
      backoff_(settings_.reconnect_min_delay, settings_.reconnect_max_delay), writer_wakeup_(executor),
      retry_timer_(executor) {}

ComponentStream::~ComponentStream() = default;

bool ComponentStream::send(const XmlNode& stanza) {
    if (pending_.size() >= settings_.send_queue_limit) {
        logger_.error("send queue full (" + std::to_string(pending_.size()) + " stanzas while " +
                      (connected() ? "connected" : "disconnected") + "); not accepted: <" + stanza.name() +
                      " to='" + std::string(stanza.attribute("to")) + "'/>");
        return false;
    }
    pending_.push_back(stanza.to_string(ns::component));
    wake_writer();
    return true;
}

void ComponentStream::enqueue_raw(std::string data) {
    pending_.push_back(std::move(data));
    wake_writer();
}

void ComponentStream::wake_writer() {
    writer_wakeup_.cancel();
}

void ComponentStream::stop() {
    if (stopping_)
        return;
    stopping_ = true;
    logger_.info("stopping: closing the component stream");
    wake_writer();
    retry_timer_.cancel();
    // Before the handshake completes there is no writer to flush: abandon the attempt at once.
    if (transport_ != nullptr && state_ != State::established)
        transport_->close();
}

void ComponentStream::handle_stanza(XmlNode stanza) {
    if (stanza.name() == "error" && stanza.xmlns() == ns::streams) {
        std::string condition = "undefined-condition";
        std::string text;
        for (const auto& child : stanza.children()) {
            if (child->xmlns() != ns::stream_errors)
                continue;
            if (child->name() == "text")
                text = child->text();
            else
                condition = child->name();
        }
        stream_error_.emplace(std::move(condition), std::move(text));
        return;
    }
    if (state_ == State::handshaking) {
        if (stanza.name() == "handshake")
            handshake_accepted_ = true;
        else
            logger_.warning("ignoring <" + stanza.name() + "/> received before the handshake completed");
        return;
    }
    if (stanza.name() == "iq" && stanza.attribute("id").starts_with(keepalive_id_prefix))
        return; // our own keepalive: arriving was all it had to do
    if (stanza_handler_)
        stanza_handler_(std::move(stanza));
}

std::optional<ComponentStream::SessionEnd> ComponentStream::end_from_stream_error() const {
    if (!stream_error_)
        return std::nullopt;
    const auto& [condition, text] = *stream_error_;
    std::string reason = "the XMPP server closed the stream with error " + condition;
    if (!text.empty())
        reason += " (\"" + text + "\")";
    if (condition == "not-authorized")
        return SessionEnd{StreamOutcome::not_authorized,
                          reason + ": it rejected the handshake; check component.secret"};
    if (condition == "host-unknown")
        return SessionEnd{StreamOutcome::host_unknown, reason + ": it does not serve " + settings_.domain +
                                                           "; check component.domain and the "
                                                           "server's component configuration"};
    if (condition == "conflict")
        return SessionEnd{std::nullopt, reason + ": another connection holds " + settings_.domain};
    return SessionEnd{std::nullopt, reason};
}

asio::awaitable<StreamOutcome> ComponentStream::run() {
    while (!stopping_) {
        SessionEnd end;
        try {
            end = co_await session();
        } catch (const std::exception& e) {
            end.reason = e.what();
        }
        state_ = State::disconnected;
        if (end.final_outcome) {
            if (*end.final_outcome == StreamOutcome::stopped)
                logger_.info("component stream closed");
            else
                logger_.error(end.reason);
            co_return *end.final_outcome;
        }
        if (stopping_)
            break;
        const auto delay = backoff_.next();
        logger_.warning("component disconnected: " + end.reason + "; reconnecting in " + seconds_text(delay) +
                        " (attempt " + std::to_string(backoff_.attempts()) + ")");
        retry_timer_.expires_after(delay);
        co_await retry_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return StreamOutcome::stopped;
}

asio::awaitable<ComponentStream::SessionEnd> ComponentStream::session() {
    Transport transport(executor_);
    transport_ = &transport;
    struct Forget {
        Transport*& current;
        ~Forget() { current = nullptr; }
    } forget{transport_};
    parser_.reset();
    stream_id_.clear();
    handshake_accepted_ = false;
    server_closed_stream_ = false;
    stream_error_.reset();
    state_ = State::handshaking;

    try {
        co_await transport.connect(settings_.host, settings_.port, settings_.tls, settings_.tls_verify,
                                   settings_.connect_timeout);
        SessionEnd handshake_end = co_await handshake(transport);
        if (!handshake_accepted_) {
            transport.close();
            co_return handshake_end;
        }
    } catch (const boost::system::system_error& e) {
        transport.close();
        co_return SessionEnd{std::nullopt, "cannot connect to " + settings_.host + ":" +
                                               std::to_string(settings_.port) + ": " + e.what()};
    }

    state_ = State::established;
    backoff_.reset();
    last_received_ = Clock::now();
    logger_.info("component connected to " + transport.peer() + " as " + settings_.domain);
    if (established_handler_)
        established_handler_();

    SessionEnd end;
    try {
        auto first = co_await (read_loop(transport) || write_loop(transport) || keepalive_loop());
        end = std::visit([](auto& e) { return std::move(e); }, first);
    } catch (const std::exception& e) {
        end.reason = e.what();
    }
    // A write cut off mid-stanza leaves the stream unusable; then the farewell would be garbage too.
    if (!farewell_.empty() && !writing_) {
        try {
            co_await transport.write(asio::buffer(farewell_));
        } catch (const std::exception& e) {
            logger_.debug(std::string("could not send the closing tag: ") + e.what());
        }
    }
    farewell_.clear();
    writing_ = false;
    if (end.final_outcome == StreamOutcome::stopped) {
        try {
            co_await close_gracefully(transport);
        } catch (const std::exception& e) {
            logger_.debug(std::string("while closing the stream: ") + e.what());
        }
    }
    // Stanzas of a batch the socket did not take go first in the next connection (at least once).
    pending_.insert(pending_.begin(), std::make_move_iterator(in_flight_.begin()),
                    std::make_move_iterator(in_flight_.end()));
    in_flight_.clear();
    transport.close();
    co_return end;
}

asio::awaitable<ComponentStream::SessionEnd> ComponentStream::handshake(Transport& transport) {
    std::string header = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                         "xmlns:stream='http://etherx.jabber.org/streams' to='";
    append_escaped(header, settings_.domain);
    header += "'>";
    co_await transport.write(asio::buffer(header));

    asio::steady_timer deadline(executor_, settings_.connect_timeout);
    const auto expired = [&]() -> asio::awaitable<void> {
        co_await deadline.async_wait(asio::use_awaitable);
    };
    const auto exchange = [&]() -> asio::awaitable<SessionEnd> {
        std::vector<char> buffer(4096);
        bool digest_sent = false;
        for (;;) {
            std::size_t n = 0;
            try {
                n = co_await transport.read_some(asio::buffer(buffer));
            } catch (const boost::system::system_error& e) {
                // Returned, not thrown: Asio's || would otherwise wait for the timer.
                co_return SessionEnd{std::nullopt,
                                     "connection lost during the handshake: " + e.code().message()};
            }
            if (!parser_.feed(std::string_view(buffer.data(), n)))
                co_return SessionEnd{std::nullopt, "invalid XML from the server during the handshake: " +
                                                       parser_.error_text()};
            if (auto end = end_from_stream_error())
                co_return *end;
            if (handshake_accepted_)
                co_return SessionEnd{};
            if (server_closed_stream_)
                co_return SessionEnd{std::nullopt, "the server closed the stream during the handshake"};
            if (!digest_sent && !stream_id_.empty()) {
                const std::string handshake =
                    "<handshake>" + component_handshake_digest(stream_id_, settings_.secret) + "</handshake>";
                co_await transport.write(asio::buffer(handshake));
                digest_sent = true;
            }
        }
    };
    auto result = co_await (exchange() || expired());
    if (result.index() == 1)
        co_return SessionEnd{std::nullopt, "no handshake answer from the server within " +
                                               seconds_text(settings_.connect_timeout)};
    co_return std::get<0>(std::move(result));
}

asio::awaitable<ComponentStream::SessionEnd> ComponentStream::read_loop(Transport& transport) {
    std::vector<char> buffer(65536);
    for (;;) {
        std::size_t n = 0;
        try {
            n = co_await transport.read_some(asio::buffer(buffer));
        } catch (const boost::system::system_error& e) {
            if (e.code() == asio::error::operation_aborted)
                throw;
            co_return SessionEnd{std::nullopt,
                                 "connection to " + transport.peer() + " lost: " + e.code().message()};
        }
        last_received_ = Clock::now();
        if (!parser_.feed(std::string_view(buffer.data(), n))) {
            const std::string_view condition = stream_error_condition(parser_.error());
            farewell_ = "<stream:error><" + std::string(condition) +
                        " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
            co_return SessionEnd{std::nullopt, "closing the stream with " + std::string(condition) +
                                                   ": the server sent " + parser_.error_text()};
        }
        if (auto end = end_from_stream_error()) {
            farewell_ = "</stream:stream>";
            co_return *end;
        }
        if (server_closed_stream_) {
            farewell_ = "</stream:stream>";
            co_return SessionEnd{std::nullopt, "the server closed the stream"};
        }
    }
}

asio::awaitable<ComponentStream::SessionEnd> ComponentStream::write_loop(Transport& transport) {
    std::vector<asio::const_buffer> buffers;
    for (;;) {
        if (pending_.empty()) {
            if (stopping_) {
                farewell_ = "</stream:stream>";
                co_return SessionEnd{StreamOutcome::stopped, "stopped"};
            }
            writer_wakeup_.expires_at(Clock::time_point::max());
            co_await writer_wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
            if (cancelled(co_await asio::this_coro::cancellation_state))
                co_return SessionEnd{std::nullopt, "writer cancelled"};
            continue;
        }
        const std::size_t count = std::min(pending_.size(), max_batch);
        in_flight_.assign(std::make_move_iterator(pending_.begin()),
                          std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(count)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
        buffers.clear();
        for (const auto& data : in_flight_)
            buffers.push_back(asio::buffer(data));
        writing_ = true;
        try {
            co_await transport.write(buffers);
        } catch (const boost::system::system_error& e) {
            writing_ = false;
            if (e.code() == asio::error::operation_aborted)
                throw;
            co_return SessionEnd{std::nullopt,
                                 "writing to " + transport.peer() + " failed: " + e.code().message()};
        }
        writing_ = false;
        in_flight_.clear();
    }
}

asio::awaitable<ComponentStream::SessionEnd> ComponentStream::keepalive_loop() {
    asio::steady_timer timer(executor_);
    for (;;) {
        timer.expires_at(last_received_ + settings_.keepalive_interval);
        co_await timer.async_wait(asio::use_awaitable);
        if (Clock::now() - last_received_ < settings_.keepalive_interval)
            continue;
        // A whitespace ping keeps middleboxes from forgetting the connection; the XEP-0199 ping, sent to our
        // own domain so that the server must route it back to us, proves the server is alive.
        const auto sent = Clock::now();
        std::string ping = " <iq type='get' id='" + std::string(keepalive_id_prefix) +
                           std::to_string(++keepalive_counter_) + "' from='";
        append_escaped(ping, settings_.domain);
        ping += "' to='";
        append_escaped(ping, settings_.domain);
        ping += "'><ping xmlns='urn:xmpp:ping'/></iq>";
        enqueue_raw(std::move(ping));
        timer.expires_after(settings_.keepalive_timeout);
        co_await timer.async_wait(asio::use_awaitable);
        if (last_received_ < sent)
            co_return SessionEnd{std::nullopt, "keepalive timeout: no answer from the server within " +
                                                   seconds_text(settings_.keepalive_timeout) + " after " +
                                                   seconds_text(settings_.keepalive_interval) +
                                                   " of silence; the connection is dead"};
    }
}

asio::awaitable<void> ComponentStream::close_gracefully(Transport& transport) {
    // RFC 6120 §4.4: after our </stream:stream>, give the server a moment to close its side.
    asio::steady_timer deadline(executor_, std::chrono::seconds(1));
    const auto wait_for_close = [&]() -> asio::awaitable<void> {
        std::vector<char> buffer(4096);
        boost::system::error_code error;
        while (!server_closed_stream_ && !error) {
            const std::size_t n = co_await transport.read_some(asio::buffer(buffer), error);
            if (!parser_.feed(std::string_view(buffer.data(), n)))
                co_return;
        }
    };
    co_await (wait_for_close() || deadline.async_wait(asio::use_awaitable));
}

} // namespace ferry::xmpp
