#pragma once

#include "bridge/pg/notification.hpp"
#include "bridge/pg/result.hpp"
#include "bridge/pg/socket_watch.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct pg_conn;

namespace ferry::pg {

/// Text parameters for $1, $2, …; nullopt is SQL NULL.
using Params = std::vector<std::optional<std::string>>;

/// Builds Params without a braced list (GCC 12 miscompiles those across co_await): params("a", std::nullopt).
template <typename... Args> Params params(Args&&... args) {
    Params list;
    list.reserve(sizeof...(args));
    (list.emplace_back(std::forward<Args>(args)), ...);
    return list;
}

struct ConnectionOptions {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds query_timeout{30000}; ///< for calls that are given no timeout of their own
};

/// One PostgreSQL session driven by the io_context: libpq in non-blocking mode, waits on its socket's
/// readiness, never a blocking call. One statement at a time; wait_notification() may wait alongside.
///
/// Timeouts: when a call runs out of time the connection is dropped (closed) and Timeout is thrown. There is
/// no PQcancel: in libpq 15 it connects and writes synchronously, which could stall the io_context for as
/// long as an unreachable server takes to time out. The server ends the orphaned statement when it next
/// writes to the socket, or sooner with client_connection_check_interval or statement_timeout set.
///
/// Host names: libpq resolves `host` with a blocking getaddrinfo() inside PQconnectPoll. Give an address
/// (host=127.0.0.1, or hostaddr= beside host=) or a socket directory where a slow resolver is a risk.
class Connection {
public:
    using NoticeHandler = std::function<void(std::string_view message)>;

    /// Checks `conninfo` (URI or key=value; std::invalid_argument when libpq cannot parse it) but does not
    /// connect yet.
    Connection(boost::asio::any_io_executor executor, std::string conninfo, ConnectionOptions options = {});
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Opens the session (closing any previous one) with PQconnectStart/PQconnectPoll. Throws ConnectionLost
    /// when the server cannot be reached or refuses us, Timeout after options.connect_timeout.
    boost::asio::awaitable<void> connect();

    /// Runs one statement with text parameters (PQsendQueryParams: values never become SQL text) and
    /// returns its result. Throws Error with the SQLSTATE for an SQL error (the connection stays usable),
    /// ConnectionLost when the session broke, Timeout after `timeout` (default options.query_timeout).
    boost::asio::awaitable<Result> execute(std::string_view sql, Params params = {},
                                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Runs trusted SQL that may hold several statements separated by ';' and no parameters (migrations);
    /// returns the last statement's result. Errors as for execute().
    boost::asio::awaitable<Result>
    execute_script(std::string_view sql, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Prepares `sql` under `name` for this session; parameter types are inferred by the server.
    boost::asio::awaitable<void> prepare(std::string_view name, std::string_view sql,
                                         std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Runs the statement prepared under `name` with text parameters. Errors as for execute().
    boost::asio::awaitable<Result>
    execute_prepared(std::string_view name, Params params = {},
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    /// Runs `sql` as a statement prepared once per session: the first call on a session prepares it (one
    /// extra round trip), later calls skip parsing and planning. For the hot statements of the outbox and
    /// dispatcher; `sql` must be a constant (every distinct text stays prepared until the session closes).
    /// Errors as for execute().
    boost::asio::awaitable<Result>
    execute_cached(std::string_view sql, Params params = {},
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    /// LISTEN on `channel` (quoted as an identifier by libpq, so any name is safe).
    boost::asio::awaitable<void> listen(std::string_view channel);
    /// The next notification for a channel this session LISTENs to, waiting as long as it takes (wrap it in
    /// a timeout with `||`). Works while the session is idle and while statements run. Throws
    /// ConnectionLost when the session breaks. One waiter at a time.
    boost::asio::awaitable<Notification> wait_notification();

    /// True while the session is open and not known to be broken.
    bool is_open() const;
    /// Looks, without waiting, for anything the server sent while the session was idle (such as the
    /// goodbye of a restarting server) and closes the session if it is over; returns is_open().
    bool probe();
    /// True inside a transaction block (also a failed one), false when idle or closed.
    bool in_transaction() const;
    /// True while a statement is running.
    bool busy() const { return busy_; }
    /// The server process id of this session (0 when closed); what pg_terminate_backend() takes.
    int backend_pid() const;
    /// Closes the session; a statement waiting on it fails with ConnectionLost.
    void close();
    /// Receives the server's notices and warnings (by default they are dropped, never printed).
    void on_notice(NoticeHandler handler) { notice_handler_ = std::move(handler); }
    /// The connection string with secrets hidden, for log lines.
    const std::string& description() const { return description_; }

private:
    class BusyScope;

    boost::asio::awaitable<bool> connect_steps();
    boost::asio::awaitable<Result> round_trip(std::function<int(pg_conn*)> send,
                                              std::optional<std::chrono::milliseconds> timeout);
    boost::asio::awaitable<Result> exchange();
    boost::asio::awaitable<void> flush();
    boost::asio::awaitable<void> wakeup();
    void consume_input();
    void collect_notifications();
    void wake_listener();
    [[noreturn]] void fail(const std::string& what);
    static void notice_trampoline(void* self, const char* message);

    boost::asio::any_io_executor executor_;
    std::string conninfo_;
    std::string description_;
    ConnectionOptions options_;
    pg_conn* conn_ = nullptr;
    SocketWatch socket_;
    bool busy_ = false;
    bool listening_ = false;
    std::deque<Notification> notifications_;
    std::unordered_map<std::string, std::string> prepared_; ///< SQL text → statement name, this session
    boost::asio::steady_timer wakeup_;                      ///< cancelled to wake wait_notification()
    NoticeHandler notice_handler_;
};

} // namespace ferry::pg
