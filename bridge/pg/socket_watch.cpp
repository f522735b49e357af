#include "bridge/pg/socket_watch.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::pg {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Descriptor = asio::posix::stream_descriptor;

void SocketWatch::watch(int fd) {
    release();
    if (fd >= 0)
        descriptor_.assign(fd);
}

void SocketWatch::release() {
    if (descriptor_.is_open())
        descriptor_.release();
}

short SocketWatch::ready_now(short events) {
    pollfd entry{};
    entry.fd = descriptor_.native_handle();
    entry.events = events;
    if (::poll(&entry, 1, 0) <= 0)
        return 0;
    // A hung-up or failed socket is "ready": the next libpq call reads the error and reports it.
    if (entry.revents & (POLLERR | POLLHUP | POLLNVAL))
        return events;
    return static_cast<short>(entry.revents & events);
}

asio::awaitable<void> SocketWatch::readable() {
    if (!ready_now(POLLIN))
        co_await descriptor_.async_wait(Descriptor::wait_read, asio::use_awaitable);
}

asio::awaitable<void> SocketWatch::writable() {
    if (!ready_now(POLLOUT))
        co_await descriptor_.async_wait(Descriptor::wait_write, asio::use_awaitable);
}

asio::awaitable<bool> SocketWatch::readable_or_writable() {
    if (const short ready = ready_now(POLLIN | POLLOUT))
        co_return (ready & POLLIN) != 0;
    const auto first = co_await (descriptor_.async_wait(Descriptor::wait_read, asio::use_awaitable) ||
                                 descriptor_.async_wait(Descriptor::wait_write, asio::use_awaitable));
    co_return first.index() == 0;
}

} // namespace ferry::pg
