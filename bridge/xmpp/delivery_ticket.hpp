#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <string>

namespace ferry::xmpp {

/// What became of the stanzas sent under one ticket (ComponentStream::send). A stanza written to the socket
/// is not yet delivered: the server may still close the stream over it, or over one written before it. The
/// ticket is confirmed once the server has demonstrably processed every stanza sent under it (it answered a
/// stanza written after them), lost when the stream ended before that, refused when a stanza could not be
/// sent at all.
class DeliveryTicket {
public:
    enum class State {
        pending,   ///< some stanza not yet confirmed
        confirmed, ///< the server processed every stanza of the ticket (a ticket without stanzas starts so)
        lost,      ///< the stream ended first: sending again may work
        refused, ///< a stanza cannot be sent (too large for the server, the queue full): sending again won't
    };

    explicit DeliveryTicket(boost::asio::any_io_executor executor);
    DeliveryTicket(const DeliveryTicket&) = delete;
    DeliveryTicket& operator=(const DeliveryTicket&) = delete;

    State state() const { return state_; }
    /// Why the ticket was lost or refused.
    const std::string& reason() const { return reason_; }
    /// True when the ticket was lost right after its own stanza was written alone (so nothing else on the
    /// stream can be to blame): the stanza itself is the likely reason the server closed the stream.
    bool suspect() const { return suspect_; }

    /// Waits until the ticket is no longer pending, or `timeout` has passed (the state then stays pending).
    boost::asio::awaitable<void> settled(std::chrono::milliseconds timeout);

    // For ComponentStream.
    void add_stanza();
    void confirm_stanza();
    void lose(const std::string& reason, bool suspect);
    void refuse(const std::string& reason);

private:
    void settle(State state, const std::string& reason);

    State state_ = State::confirmed;
    std::size_t outstanding_ = 0;
    std::string reason_;
    bool suspect_ = false;
    boost::asio::steady_timer wakeup_;
};

} // namespace ferry::xmpp
