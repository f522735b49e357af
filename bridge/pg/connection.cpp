#include "bridge/pg/connection.hpp"

#include "bridge/pg/conninfo.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/on_exit.hpp"
#include "bridge/pg/within.hpp"

#include <libpq-fe.h>
#include <new>

namespace ferry::pg {

namespace asio = boost::asio;

Connection::Connection(asio::any_io_executor executor, std::string conninfo, ConnectionOptions options)
    : executor_(executor), conninfo_(std::move(conninfo)), options_(options), socket_(executor),
      wakeup_(executor) {
    check_conninfo(conninfo_);
    description_ = redact_conninfo(conninfo_);
}

Connection::~Connection() {
    close();
}

void Connection::close() {
    socket_.release(); // before PQfinish: the descriptor must never outlive libpq's socket
    if (conn_) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    prepared_.clear();
    wake_listener();
}

void Connection::fail(const std::string& what) {
    close();
    throw ConnectionLost(what);
}

bool Connection::is_open() const {
    return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

bool Connection::in_transaction() const {
    if (!conn_)
        return false;
    const auto status = PQtransactionStatus(conn_);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

int Connection::backend_pid() const {
    return conn_ ? PQbackendPID(conn_) : 0;
}

void Connection::notice_trampoline(void* self, const char* message) {
    auto& connection = *static_cast<Connection*>(self);
    if (connection.notice_handler_)
        connection.notice_handler_(tidy_message(message));
}

asio::awaitable<void> Connection::connect() {
    close();
    conn_ = PQconnectStart(conninfo_.c_str());
    if (!conn_)
        throw std::bad_alloc();
    if (PQstatus(conn_) == CONNECTION_BAD)
        fail("cannot connect to PostgreSQL: " + tidy_message(PQerrorMessage(conn_)));
    PQsetNoticeProcessor(conn_, &Connection::notice_trampoline, this);

    OnExit close_on_failure([this] { close(); });
    if (!co_await within(options_.connect_timeout, connect_steps()))
        throw Timeout("could not connect to PostgreSQL within " +
                      std::to_string(options_.connect_timeout.count()) + " ms");
    close_on_failure.dismiss();
}

asio::awaitable<bool> Connection::connect_steps() {
    // Before the first PQconnectPoll, behave as if it had asked to wait for writing.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    for (;;) {
        // libpq may switch sockets between steps (next host, SSL or GSS fallback): register afresh each time.
        const int fd = PQsocket(conn_);
        if (fd < 0)
            fail("cannot connect to PostgreSQL: " + tidy_message(PQerrorMessage(conn_)));
        socket_.watch(fd);
        if (status == PGRES_POLLING_READING)
            co_await socket_.readable();
        else
            co_await socket_.writable();
        status = PQconnectPoll(conn_);
        if (status == PGRES_POLLING_FAILED)
            fail("cannot connect to PostgreSQL: " + tidy_message(PQerrorMessage(conn_)));
        if (status == PGRES_POLLING_OK)
            break;
    }
    if (PQsetnonblocking(conn_, 1) != 0)
        fail("cannot put the PostgreSQL connection in non-blocking mode: " +
             tidy_message(PQerrorMessage(conn_)));
    socket_.watch(PQsocket(conn_));
    co_return true;
}

bool Connection::probe() {
    if (!conn_ || busy_)
        return is_open();
    // A server that shut down sent its goodbye and then closed the socket: read both, libpq notices.
    for (int reads = 0; reads < 16 && socket_.readable_now(); ++reads) {
        if (!PQconsumeInput(conn_)) {
            close();
            return false;
        }
        collect_notifications();
    }
    return is_open();
}

} // namespace ferry::pg
