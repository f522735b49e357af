#include "bridge/pg/listener.hpp"

#include "bridge/base/backoff.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/pg/on_exit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::pg {

namespace asio = boost::asio;

Listener::Listener(asio::any_io_executor executor, std::string conninfo, std::string channel,
                   std::string name, core::Logger& logger, ListenerOptions options)
    : channel_(std::move(channel)), name_(std::move(name)), logger_(logger), options_(options),
      session_(executor, std::move(conninfo), options.connection), pause_(executor) {}

void Listener::stop() {
    stopping_ = true;
    session_.close(); // wait_notification() fails at once
    pause_.cancel();
}

asio::awaitable<void> Listener::run() {
    OnExit close_session([this] { session_.close(); });
    core::Backoff backoff(options_.retry_min_delay, options_.retry_max_delay);
    bool lost = false;
    while (!co_await ending()) {
        std::string failure;
        try {
            co_await session_.connect();
            co_await session_.listen(channel_);
            backoff.reset();
            if (lost)
                logger_.info(name_ + ": listening on " + channel_ + " again");
            lost = false;
            if (on_listening_)
                on_listening_();
            for (;;) {
                const Notification notification = co_await session_.wait_notification();
                if (on_notification_)
                    on_notification_(notification);
            }
        } catch (const std::exception& e) {
            failure = core::error_text(e);
        }
        session_.close();
        if (co_await ending())
            break;
        const auto delay = backoff.next();
        logger_.log(lost ? core::LogLevel::debug : core::LogLevel::warning,
                    name_ + ": no LISTEN connection (" + failure + "); reconnecting in " +
                        std::to_string(delay.count()) + " ms, polling meanwhile");
        lost = true;
        pause_.expires_after(delay);
        co_await pause_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<bool> Listener::ending() {
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    co_return stopping_ || state.cancelled() != asio::cancellation_type::none;
}

} // namespace ferry::pg
