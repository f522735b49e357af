// Connection: running statements and reading their results.
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/within.hpp"

#include <libpq-fe.h>
#include <stdexcept>

namespace ferry::pg {

namespace asio = boost::asio;
using Milliseconds = std::chrono::milliseconds;

namespace {

/// libpq stops reading text at a NUL byte: refuse such text rather than let it be cut short.
std::string checked_text(std::string_view text, const char* what) {
    if (text.find('\0') != std::string_view::npos)
        throw std::invalid_argument(std::string(what) + " contains a NUL byte");
    return std::string(text);
}

std::vector<const char*> value_pointers(const Params& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (params[i] && params[i]->find('\0') != std::string::npos)
            throw Error("parameter $" + std::to_string(i + 1) +
                            " contains a NUL byte, which PostgreSQL text "
                            "cannot hold",
                        "22021");
        values.push_back(params[i] ? params[i]->c_str() : nullptr);
    }
    return values;
}

} // namespace

/// Marks the connection busy for one round trip. Unless the round trip got to its end (all results read),
/// the session is in an unknown state and is closed.
class Connection::BusyScope {
public:
    explicit BusyScope(Connection& connection) : connection_(connection) {
        connection_.busy_ = true;
        connection_.wake_listener(); // it must leave the socket to the statement
    }
    ~BusyScope() {
        connection_.busy_ = false;
        if (!finished)
            connection_.close();
        connection_.wake_listener();
    }
    BusyScope(const BusyScope&) = delete;
    BusyScope& operator=(const BusyScope&) = delete;
    bool finished = false;

private:
    Connection& connection_;
};

asio::awaitable<Result> Connection::execute(std::string_view sql, Params params,
                                            std::optional<Milliseconds> timeout) {
    const std::string text = checked_text(sql, "the SQL text");
    const std::vector<const char*> values = value_pointers(params);
    std::function<int(pg_conn*)> send = [&](pg_conn* conn) {
        return PQsendQueryParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                 nullptr, nullptr, 0);
    };
    co_return co_await round_trip(std::move(send), timeout);
}

asio::awaitable<Result> Connection::execute_script(std::string_view sql,
                                                   std::optional<Milliseconds> timeout) {
    const std::string text = checked_text(sql, "the SQL text");
    std::function<int(pg_conn*)> send = [&](pg_conn* conn) { return PQsendQuery(conn, text.c_str()); };
    co_return co_await round_trip(std::move(send), timeout);
}

asio::awaitable<void> Connection::prepare(std::string_view name, std::string_view sql,
                                          std::optional<Milliseconds> timeout) {
    const std::string statement = checked_text(name, "the statement name");
    const std::string text = checked_text(sql, "the SQL text");
    std::function<int(pg_conn*)> send = [&](pg_conn* conn) {
        return PQsendPrepare(conn, statement.c_str(), text.c_str(), 0, nullptr);
    };
    co_await round_trip(std::move(send), timeout);
}

asio::awaitable<Result> Connection::execute_prepared(std::string_view name, Params params,
                                                     std::optional<Milliseconds> timeout) {
    const std::string statement = checked_text(name, "the statement name");
    const std::vector<const char*> values = value_pointers(params);
    std::function<int(pg_conn*)> send = [&](pg_conn* conn) {
        return PQsendQueryPrepared(conn, statement.c_str(), static_cast<int>(values.size()), values.data(),
                                   nullptr, nullptr, 0);
    };
    co_return co_await round_trip(std::move(send), timeout);
}

asio::awaitable<Result> Connection::execute_cached(std::string_view sql, Params params,
                                                   std::optional<Milliseconds> timeout) {
    std::string text(sql);
    auto known = prepared_.find(text);
    if (known == prepared_.end()) {
        std::string name = "ferry_" + std::to_string(prepared_.size() + 1);
        co_await prepare(name, text, timeout);
        known = prepared_.emplace(std::move(text), std::move(name)).first;
    }
    const std::string name = known->second; // a copy: close() during the call clears the map
    co_return co_await execute_prepared(name, std::move(params), timeout);
}

asio::awaitable<Result> Connection::round_trip(std::function<int(pg_conn*)> send,
                                               std::optional<Milliseconds> timeout) {
    if (!is_open())
        throw ConnectionLost("the PostgreSQL connection is closed");
    if (busy_)
        throw std::logic_error("pg::Connection runs one statement at a time");
    BusyScope scope(*this);
    if (!send(conn_)) {
        const std::string message = tidy_message(PQerrorMessage(conn_));
        if (PQstatus(conn_) == CONNECTION_BAD)
            throw ConnectionLost("lost the connection to PostgreSQL: " + message);
        scope.finished = true; // refused before anything was sent
        throw Error(message);
    }
    const Milliseconds limit = timeout.value_or(options_.query_timeout);
    std::optional<Result> outcome;
    try {
        outcome = co_await within(limit, exchange());
    } catch (const boost::system::system_error&) {
        if (!is_open()) // close() released the socket under us
            throw ConnectionLost("the PostgreSQL connection was closed while a statement was running");
        throw;
    }
    if (!outcome)
        throw Timeout("PostgreSQL did not answer within " + std::to_string(limit.count()) +
                      " ms; the connection was dropped");
    scope.finished = true;
    Result result = std::move(*outcome);
    const auto status = PQresultStatus(result.native());
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
        const char* state = PQresultErrorField(result.native(), PG_DIAG_SQLSTATE);
        const bool lost = status == PGRES_BAD_RESPONSE || PQstatus(conn_) == CONNECTION_BAD ||
                          (state && is_connection_sqlstate(state));
        if (lost)
            close();
        throw_result_error(result.native(), lost);
    }
    co_return result;
}

asio::awaitable<Result> Connection::exchange() {
    co_await flush();
    Result first_error;
    Result last;
    for (;;) {
        while (PQisBusy(conn_)) {
            co_await socket_.readable();
            consume_input();
        }
        Result result(PQgetResult(conn_));
        if (!result)
            break; // every result of the statement has been read: the session is idle again
        switch (PQresultStatus(result.native())) {
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
            if (!first_error)
                first_error = std::move(result);
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            throw Error("COPY is not supported by pg::Connection"); // the session is then closed
        default:
            last = std::move(result);
        }
    }
    collect_notifications();
    co_return first_error ? std::move(first_error) : std::move(last);
}

asio::awaitable<void> Connection::flush() {
    for (;;) {
        const int pending = PQflush(conn_);
        if (pending == 0)
            co_return;
        if (pending < 0)
            fail("lost the connection to PostgreSQL: " + tidy_message(PQerrorMessage(conn_)));
        // The server may be waiting for us to read before it reads more: serve both directions.
        if (co_await socket_.readable_or_writable())
            consume_input();
    }
}

void Connection::consume_input() {
    if (!PQconsumeInput(conn_))
        fail("lost the connection to PostgreSQL: " + tidy_message(PQerrorMessage(conn_)));
    collect_notifications();
}

} // namespace ferry::pg
