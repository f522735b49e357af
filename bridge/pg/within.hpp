#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace ferry::pg {

namespace detail {

/// Turns a failure into a success that carries it, so that `||` stops the timer at once.
template <typename T>
boost::asio::awaitable<std::optional<T>> captured(boost::asio::awaitable<T> operation,
                                                  std::exception_ptr& failure) {
    try {
        co_return co_await std::move(operation);
    } catch (...) {
        failure = std::current_exception();
    }
    co_return std::nullopt;
}

} // namespace detail

/// Runs `operation` for at most `limit`: its value, or nullopt when time ran out (the operation is then
/// cancelled). Its exceptions propagate at once; a bare `operation || timer` would wait for the timer,
/// since Asio's `||` only stops at the first branch that succeeds.
template <typename T>
boost::asio::awaitable<std::optional<T>> within(std::chrono::milliseconds limit,
                                                boost::asio::awaitable<T> operation) {
    using namespace boost::asio::experimental::awaitable_operators;
    std::exception_ptr failure;
    boost::asio::steady_timer deadline(co_await boost::asio::this_coro::executor, limit);
    auto outcome = co_await (detail::captured(std::move(operation), failure) ||
                             deadline.async_wait(boost::asio::use_awaitable));
    if (outcome.index() == 1)
        co_return std::nullopt;
    if (failure)
        std::rethrow_exception(failure);
    co_return std::move(std::get<0>(outcome));
}

} // namespace ferry::pg
