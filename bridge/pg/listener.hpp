#pragma once

#include "bridge/pg/connection.hpp"
#include "bridge/pg/notification.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace ferry::core {
class Logger;
}

namespace ferry::pg {

struct ListenerOptions {
    std::chrono::milliseconds retry_min_delay{200}; ///< backoff while the session cannot be opened
    std::chrono::milliseconds retry_max_delay{10000};
    ConnectionOptions connection;
};

/// A session of its own that LISTENs on one channel, for as long as run() runs. NOTIFY is a hint that a
/// broken session loses: after every (re)connection `on_listening` is called, so that the owner looks for
/// whatever it may have missed. Reconnects with backoff; the first failure is a warning, the retries debug
/// lines.
class Listener {
public:
    using NotificationHandler = std::function<void(const Notification&)>;

    /// `name` starts its log lines ("mapping store: …"). std::invalid_argument when libpq cannot parse
    /// `conninfo`. `logger` must outlive the listener.
    Listener(boost::asio::any_io_executor executor, std::string conninfo, std::string channel,
             std::string name, core::Logger& logger, ListenerOptions options = {});
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    void on_notification(NotificationHandler handler) { on_notification_ = std::move(handler); }
    /// Called each time LISTEN has taken effect on a new session.
    void on_listening(std::function<void()> handler) { on_listening_ = std::move(handler); }

    /// Listens until stop() or until the caller cancels it (as a branch of `||`).
    boost::asio::awaitable<void> run();
    void stop();

private:
    boost::asio::awaitable<bool> ending();

    std::string channel_;
    std::string name_;
    core::Logger& logger_;
    ListenerOptions options_;
    Connection session_;
    boost::asio::steady_timer pause_;
    NotificationHandler on_notification_;
    std::function<void()> on_listening_;
    bool stopping_ = false;
};

} // namespace ferry::pg
