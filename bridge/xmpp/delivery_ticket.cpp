#include "bridge/xmpp/delivery_ticket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::xmpp {

namespace asio = boost::asio;

DeliveryTicket::DeliveryTicket(asio::any_io_executor executor)
    : wakeup_(executor, asio::steady_timer::time_point::max()) {}

asio::awaitable<void> DeliveryTicket::settled(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (state_ == State::pending && std::chrono::steady_clock::now() < deadline) {
        wakeup_.expires_at(deadline);
        co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void DeliveryTicket::add_stanza() {
    ++outstanding_;
    if (state_ == State::confirmed)
        state_ = State::pending;
}

void DeliveryTicket::confirm_stanza() {
    if (outstanding_ > 0 && --outstanding_ == 0 && state_ == State::pending)
        settle(State::confirmed, {});
}

void DeliveryTicket::lose(const std::string& reason, bool suspect) {
    if (state_ != State::pending)
        return;
    suspect_ = suspect;
    settle(State::lost, reason);
}

void DeliveryTicket::refuse(const std::string& reason) {
    if (state_ == State::pending || state_ == State::confirmed)
        settle(State::refused, reason);
}

void DeliveryTicket::settle(State state, const std::string& reason) {
    state_ = state;
    reason_ = reason;
    wakeup_.cancel();
}

} // namespace ferry::xmpp
