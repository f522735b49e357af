// Connection: LISTEN and the notifications that arrive on the session.
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/on_exit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <libpq-fe.h>
#include <stdexcept>

namespace ferry::pg {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

void Connection::collect_notifications() {
    bool any = false;
    while (PGnotify* notify = PQnotifies(conn_)) {
        notifications_.push_back(
            Notification{notify->relname, notify->extra ? notify->extra : "", notify->be_pid});
        PQfreemem(notify);
        any = true;
    }
    if (any)
        wake_listener();
}

void Connection::wake_listener() {
    wakeup_.cancel();
}

asio::awaitable<void> Connection::wakeup() {
    wakeup_.expires_at(asio::steady_timer::time_point::max());
    co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
    // The wait ends quietly on a wake-up and on cancellation alike: tell them apart.
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
        throw boost::system::system_error(asio::error::operation_aborted);
}

asio::awaitable<void> Connection::listen(std::string_view channel) {
    if (!is_open())
        throw ConnectionLost("the PostgreSQL connection is closed");
    char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
    if (!quoted)
        throw Error("cannot quote the channel name: " + tidy_message(PQerrorMessage(conn_)));
    const std::string sql = "LISTEN " + std::string(quoted);
    PQfreemem(quoted);
    co_await execute(sql);
}

asio::awaitable<Notification> Connection::wait_notification() {
    if (listening_)
        throw std::logic_error("pg::Connection: one wait_notification() at a time");
    listening_ = true;
    OnExit done([this] { listening_ = false; });
    for (;;) {
        if (!notifications_.empty()) {
            Notification next = std::move(notifications_.front());
            notifications_.pop_front();
            co_return next;
        }
        if (!is_open())
            throw ConnectionLost("the PostgreSQL connection is closed");
        if (busy_) { // the running statement reads the socket and collects what arrives
            co_await wakeup();
            continue;
        }
        bool readable = false;
        try {
            readable = (co_await (socket_.readable() || wakeup())).index() == 0;
        } catch (const boost::system::system_error&) {
            if (is_open())
                throw; // cancelled by our caller
            continue;  // closed under us: reported at the top of the loop
        }
        if (readable && !busy_ && is_open())
            consume_input();
    }
}

} // namespace ferry::pg
