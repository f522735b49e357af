#include "bridge/xmpp/component_stream.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/net/transport.hpp"
#include "bridge/xmpp/handshake.hpp"
#include "bridge/xmpp/namespaces.hpp"

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
constexpr std::string_view barrier_id_prefix = "ferry-barrier-";
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
               .stream_closed = [this] { server_closed_stream_ = true; },
               .stanza_refused =
                   [this](const XmlNode& head, const std::string& reason) {
                       logger_.warning("skipped a <" + head.name() + "/> from '" +
                                       std::string(head.attribute("from")) + "': " + reason);
                       if (state_ == State::established && refused_handler_)
                           refused_handler_(head, reason);
                   }}),
      backoff_(settings_.reconnect_min_delay, settings_.reconnect_max_delay), writer_wakeup_(executor),
      retry_timer_(executor) {}

ComponentStream::~ComponentStream() = default;

bool ComponentStream::send(const XmlNode& stanza, const std::shared_ptr<DeliveryTicket>& ticket) {
    const auto refuse = [&](const std::string& why) {
        logger_.error(why + "; not sent: <" + stanza.name() + " to='" + std::string(stanza.attribute("to")) +
                      "' id='" + std::string(stanza.attribute("id")) + "'/>");
        if (ticket)
            ticket->refuse(why);
        return false;
    };
    if (ticket && state_ != State::established) {
        ticket->add_stanza();
        ticket->lose("the XMPP server is not connected", false);
        return false;
    }
    if (pending_.size() >= settings_.send_queue_limit) {
        const std::string why = "send queue full (" + std::to_string(pending_.size()) + " stanzas while " +
                                (connected() ? "connected" : "disconnected") + ")";
        if (ticket) {
            logger_.warning(why + "; a delivery waits for its next attempt");
            ticket->add_stanza();
            ticket->lose(why, false);
            return false;
        }
        return refuse(why);
    }
    std::string data = stanza.to_string(ns::component);
    if (data.size() > settings_.server_max_stanza_size)
        return refuse("the stanza is " + std::to_string(data.size()) + " bytes, more than the " +
                      std::to_string(settings_.server_max_stanza_size) +
                      " the XMPP server takes (component.server_max_stanza_size)");
    if (ticket)
        ticket->add_stanza();
    pending_.push_back({std::move(data), ticket});
    wake_writer();
    return true;
}

void ComponentStream::enqueue_raw(std::string data) {
    pending_.push_back({std::move(data), nullptr});
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
        if (handshake_accepted_)
            early_stanzas_.push_back(std::move(stanza)); // the stream's, once the session is established
        else if (stanza.name() == "handshake")
            handshake_accepted_ = true;
        else
            logger_.warning("ignoring <" + stanza.name() + "/> received before the handshake completed");
        return;
    }
    if (stanza.name() == "iq") {
        const std::string_view id = stanza.attribute("id");
        if (id.starts_with(keepalive_id_prefix))
            return; // our own keepalive: arriving was all it had to do
        if (id.starts_with(barrier_id_prefix) && stanza.attribute("from") == settings_.domain) {
            try {
                confirm_through(std::stoull(std::string(id.substr(barrier_id_prefix.size()))));
            } catch (const std::exception&) {
                logger_.warning("ignoring a barrier echo with a malformed id: " + std::string(id));
            }
            return;
        }
    }
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
            end.reason = core::error_text(e);
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
    early_stanzas_.clear();
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
                                               std::to_string(settings_.port) + ": " + e.code().message()};
    }

    state_ = State::established;
    backoff_.reset();
    last_received_ = Clock::now();
    logger_.info("component connected to " + transport.peer() + " as " + settings_.domain);
    if (established_handler_)
        established_handler_();
    for (XmlNode& early : std::exchange(early_stanzas_, {}))
        handle_stanza(std::move(early));

    SessionEnd end;
    try {
        auto first = co_await (read_loop(transport) || write_loop(transport) || keepalive_loop());
        end = std::visit([](auto& e) { return std::move(e); }, first);
    } catch (const std::exception& e) {
        end.reason = core::error_text(e);
    }
    // A write cut off mid-stanza leaves the stream unusable; then the farewell would be garbage too.
    if (!farewell_.empty() && !writing_) {
        try {
            co_await transport.write(asio::buffer(farewell_));
        } catch (const std::exception& e) {
            logger_.debug("could not send the closing tag: " + core::error_text(e));
        }
    }
    farewell_.clear();
    writing_ = false;
    if (end.final_outcome == StreamOutcome::stopped) {
        try {
            co_await close_gracefully(transport);
        } catch (const std::exception& e) {
            logger_.debug("while closing the stream: " + core::error_text(e));
        }
    }
    // Stanzas of a batch the socket did not take go first in the next connection (at least once); deliveries
    // go back to their senders instead, through their lost tickets.
    std::erase_if(in_flight_, [](const Outgoing& o) { return o.ticket != nullptr; });
    pending_.insert(pending_.begin(), std::make_move_iterator(in_flight_.begin()),
                    std::make_move_iterator(in_flight_.end()));
    in_flight_.clear();
    lose_unconfirmed(end.reason);
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
        // A batch, and a barrier after it when it carries deliveries; in the careful period a barrier after
        // each delivery.
        const bool careful = Clock::now() < careful_until_;
        std::size_t count = 0;
        bool tracked = false;
        while (count < pending_.size() && count < max_batch) {
            const bool delivery = pending_[count].ticket != nullptr;
            ++count;
            tracked = tracked || delivery;
            if (delivery && careful)
                break;
        }
        in_flight_.assign(std::make_move_iterator(pending_.begin()),
                          std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(count)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
        std::string barrier;
        if (tracked) {
            ++barrier_counter_;
            barrier = barrier_stanza(barrier_counter_);
            // Registered before the write: its echo may be read before this coroutine resumes.
            for (const Outgoing& o : in_flight_)
                if (o.ticket)
                    unconfirmed_.push_back({barrier_counter_, o.ticket, careful});
        }
        buffers.clear();
        for (const auto& o : in_flight_)
            buffers.push_back(asio::buffer(o.data));
        if (!barrier.empty())
            buffers.emplace_back(asio::buffer(barrier));
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

std::string ComponentStream::barrier_stanza(std::uint64_t barrier) const {
    std::string stanza =
        "<iq type='get' id='" + std::string(barrier_id_prefix) + std::to_string(barrier) + "' from='";
    append_escaped(stanza, settings_.domain);
    stanza += "' to='";
    append_escaped(stanza, settings_.domain);
    stanza += "'><ping xmlns='urn:xmpp:ping'/></iq>";
    return stanza;
}

void ComponentStream::confirm_through(std::uint64_t barrier) {
    while (!unconfirmed_.empty() && unconfirmed_.front().barrier <= barrier) {
        unconfirmed_.front().ticket->confirm_stanza();
        unconfirmed_.pop_front();
    }
}

void ComponentStream::lose_unconfirmed(const std::string& reason) {
    if (!unconfirmed_.empty()) {
        logger_.warning(std::to_string(unconfirmed_.size()) +
                        " deliveries were not confirmed by the server before the stream ended; they are sent "
                        "again, each on its own for the next " +
                        seconds_text(settings_.careful_period));
        careful_until_ = Clock::now() + settings_.careful_period;
    }
    // Everything before the first unconfirmed stanza was processed: when it was written on its own, the
    // server closed the stream over it (or over nothing the stream could tell).
    bool first = true;
    for (Unconfirmed& u : unconfirmed_) {
        u.ticket->lose("the XMPP server did not confirm it before the stream ended (" + reason + ")",
                       first && u.alone);
        first = false;
    }
    unconfirmed_.clear();
    for (Outgoing& o : pending_)
        if (o.ticket)
            o.ticket->lose("the stream ended before it was written (" + reason + ")", false);
    std::erase_if(pending_, [](const Outgoing& o) { return o.ticket != nullptr; });
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
