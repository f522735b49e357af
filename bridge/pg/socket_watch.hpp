#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <poll.h>

namespace ferry::pg {

/// Readiness waits on a socket that libpq owns. The Asio descriptor only watches it: it is released, never
/// closed, so libpq stays the one that closes its socket. Waits check readiness with poll() first, because
/// Asio's reactor is edge-triggered and would miss data that arrived before the wait began.
class SocketWatch {
public:
    explicit SocketWatch(boost::asio::any_io_executor executor) : descriptor_(executor) {}
    ~SocketWatch() { release(); }
    SocketWatch(const SocketWatch&) = delete;
    SocketWatch& operator=(const SocketWatch&) = delete;

    /// Watches `fd` from now on, registering it afresh even when the number is the same (libpq may have
    /// closed a socket and opened another that got the same number).
    void watch(int fd);
    /// Stops watching without closing the socket; pending waits complete with operation_aborted.
    void release();
    bool watching() const { return descriptor_.is_open(); }
    /// True when data (or an error, or the end of the stream) is waiting to be read right now.
    bool readable_now() { return watching() && ready_now(POLLIN) != 0; }

    /// Completes when the socket is readable (at once if it already is).
    boost::asio::awaitable<void> readable();
    /// Completes when the socket is writable (at once if it already is).
    boost::asio::awaitable<void> writable();
    /// Completes when the socket is readable or writable; returns true when it is readable.
    boost::asio::awaitable<bool> readable_or_writable();

private:
    /// poll() with a zero timeout: the events of `events` that are ready now (errors count as ready).
    short ready_now(short events);

    boost::asio::posix::stream_descriptor descriptor_;
};

} // namespace ferry::pg
