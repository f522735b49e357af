// pg::Listener against a real PostgreSQL: notifications reach the handler, and a session killed under it is
// replaced, with on_listening telling its owner to look for what it missed. Run with
// scripts/testworld/run-pg-tests.sh BUILD_DIR (sets FERRY_TEST_PG_URL).
#include "bridge/base/logger.hpp"
#include "bridge/pg/listener.hpp"
#include "tests/support/pg_test_support.hpp"

#include <gtest/gtest.h>

namespace ferry::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using pg_test::require;
using pg_test::scalar;
using pg_test::sleep_for;
using Clock = std::chrono::steady_clock;

class PgListener : public pg_test::PgTest {};

asio::awaitable<void> wait_for(std::function<bool()> done, std::string what) {
    const auto deadline = Clock::now() + 10s;
    while (!done()) {
        require(Clock::now() < deadline, what);
        co_await sleep_for(10ms);
    }
}

TEST_F(PgListener, DeliversNotificationsAndListensAgainAfterItsSessionIsKilled) {
    run([&]() -> asio::awaitable<void> {
        const auto executor = co_await asio::this_coro::executor;
        core::Logger logger(core::LogLevel::error);
        ListenerOptions options;
        options.retry_min_delay = 20ms;
        options.retry_max_delay = 100ms;
        Listener listener(executor, url, "ferry test channel", "test listener", logger, options);
        std::vector<std::string> payloads;
        int listening = 0;
        listener.on_notification(
            [&](const Notification& n) { payloads.push_back(n.channel + ":" + n.payload); });
        listener.on_listening([&] { ++listening; });
        bool ended = false;
        asio::co_spawn(executor, listener.run(), [&](std::exception_ptr) { ended = true; });

        Connection admin(executor, url);
        co_await admin.connect();
        const std::string count_listeners = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                            "'LISTEN %ferry test channel%' AND pid <> pg_backend_pid()";
        co_await wait_for([&] { return listening == 1; }, "LISTEN took effect");
        co_await admin.execute("SELECT pg_notify('ferry test channel', 'one')");
        co_await admin.execute("SELECT pg_notify('another channel', 'ignored')");
        co_await wait_for([&] { return payloads.size() == 1; }, "the first notification arrived");
        EXPECT_EQ(payloads.front(), "ferry test channel:one");

        // What a restart or a network cut does: the session is gone, notifications sent meanwhile are lost.
        co_await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
                               "'LISTEN %ferry test channel%' AND pid <> pg_backend_pid()");
        co_await wait_for([&] { return listening == 2; }, "listening again after the session was killed");
        require(co_await scalar(admin, count_listeners) == "1", "one LISTEN session, the new one");
        co_await admin.execute("SELECT pg_notify('ferry test channel', 'two')");
        co_await wait_for([&] { return payloads.size() == 2; }, "a notification on the new session");
        EXPECT_EQ(payloads.back(), "ferry test channel:two");

        listener.stop();
        co_await wait_for([&] { return ended; }, "run() returned after stop()");
        EXPECT_EQ(listening, 2);
    });
}

} // namespace
} // namespace ferry::pg
