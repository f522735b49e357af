// SourceLease against a real PostgreSQL: one holder at a time, a takeover once a dead holder's lease ran out
// (not before), the cursor handed from one holder to the next, a holder that lost its lease stops, and a
// cancelled run gives its lease back. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR.
#include "bridge/base/logger.hpp"
#include "bridge/core/source_lease.hpp"
#include "bridge/pg/pool.hpp"
#include "tests/support/store_test_support.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using pg_test::all_of;
using pg_test::require;
using pg_test::sleep_for;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::query;
using store_test::scalar;

constexpr SourceLeaseOptions fast{.lease = 800ms, .renew_every = 200ms, .retry_every = 100ms};

class PgSourceLease : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            co_await prepare_store(c, logger, "DELETE FROM source_leases", "source-lease-test");
        });
    }

    /// A body that runs until cancelled, counting how many run at once.
    std::function<asio::awaitable<void>(std::string)> occupy(const std::string& who) {
        return [this, who](std::string) -> asio::awaitable<void> {
            started.push_back(who);
            ++running;
            most_running = std::max(most_running, running);
            struct Leave {
                int& running;
                ~Leave() { --running; }
            } leave{running};
            asio::steady_timer forever(co_await asio::this_coro::executor, Clock::time_point::max());
            co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
        };
    }

    Logger logger{LogLevel::error};
    std::vector<std::string> started;
    int running = 0;
    int most_running = 0;
};

TEST_F(PgSourceLease, OneHolderAtATimeAndAStoppedHolderHandsOver) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(4), logger);
        SourceLease a(pool, "poll:test", "process-a", logger, fast);
        SourceLease b(pool, "poll:test", "process-b", logger, fast);
        bool a_wanted = true;
        bool b_wanted = true;
        asio::cancellation_signal stop_a;
        asio::cancellation_signal stop_b;
        std::vector<pg_test::Task> tasks;
        tasks.emplace_back([&]() -> asio::awaitable<void> {
            co_await asio::co_spawn(context, a.run([&] { return a_wanted; }, occupy("a")),
                                    asio::bind_cancellation_slot(stop_a.slot(), asio::use_awaitable));
        });
        tasks.emplace_back([&]() -> asio::awaitable<void> {
            co_await sleep_for(50ms);
            co_await asio::co_spawn(context, b.run([&] { return b_wanted; }, occupy("b")),
                                    asio::bind_cancellation_slot(stop_b.slot(), asio::use_awaitable));
        });
        tasks.emplace_back([&]() -> asio::awaitable<void> {
            co_await sleep_for(2s); // several renewals and retries
            require(started.size() == 1 && started[0] == "a", "only a runs while it renews");
            stop_a.emit(asio::cancellation_type::terminal); // a clean stop gives the lease back
            const auto stopped = Clock::now();
            while (started.size() < 2 && Clock::now() - stopped < 2s)
                co_await sleep_for(20ms);
            require(started.size() == 2 && started[1] == "b", "b takes over");
            EXPECT_LT(Clock::now() - stopped, 500ms)
                << "a gave its lease back: b need not wait for it to expire";
            b_wanted = false;
            stop_b.emit(asio::cancellation_type::terminal);
        });
        co_await all_of(std::move(tasks));
        EXPECT_EQ(most_running, 1);
        EXPECT_EQ(co_await scalar(pool, "SELECT coalesce(owner, 'nobody') FROM source_leases"), "nobody");
    });
}

TEST_F(PgSourceLease, ADeadHoldersLeaseIsTakenOnlyOnceItRanOut) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), logger);
        // What a SIGKILLed holder leaves: its row with a lease that runs for 800 ms more, and its cursor.
        co_await query(pool, "INSERT INTO source_leases (source, owner, lease_until, progress) "
                             "VALUES ('poll:test', 'dead', now() + interval '800 milliseconds', '703')");
        const auto killed = Clock::now();
        SourceLease b(pool, "poll:test", "process-b", logger, fast);
        std::string given;
        Clock::duration waited{};
        co_await b.run([] { return true; },
                       [&](std::string progress) -> asio::awaitable<void> {
                           waited = Clock::now() - killed;
                           given = progress;
                           co_return; // ends the run
                       });
        EXPECT_GE(waited, 700ms) << "taken before the dead holder's lease ran out";
        EXPECT_LT(waited, 2s);
        EXPECT_EQ(given, "703") << "the next holder goes on from the saved cursor";
    });
}

TEST_F(PgSourceLease, TheCursorGoesFromOneHolderToTheNext) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), logger);
        SourceLease a(pool, "poll:test", "process-a", logger, fast);
        std::string first;
        co_await a.run([] { return true; },
                       [&](std::string progress) -> asio::awaitable<void> {
                           first = progress;
                           co_await a.save_progress("42");
                       });
        EXPECT_EQ(first, "") << "a source never fetched has no cursor";
        SourceLease b(pool, "poll:test", "process-b", logger, fast);
        std::string second;
        co_await b.run([] { return true; },
                       [&](std::string progress) -> asio::awaitable<void> {
                           second = progress;
                           co_return;
                       });
        EXPECT_EQ(second, "42");
    });
}

TEST_F(PgSourceLease, AHolderWhoseLeaseWasTakenStopsAndCannotSave) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), logger);
        SourceLease a(pool, "poll:test", "process-a", logger, fast);
        bool wanted = true;
        int bodies = 0;
        bool refused = false;
        co_await a.run(
            [&] { return wanted; },
            [&](std::string) -> asio::awaitable<void> {
                ++bodies;
                // Another process took the source (the lease had run out while this one was stalled).
                co_await query(
                    pool,
                    "UPDATE source_leases SET owner = 'thief', lease_until = now() + interval '1 hour'");
                try {
                    co_await a.save_progress("99");
                } catch (const SourceLeaseLost&) {
                    refused = true;
                }
                wanted = false; // then the run only waits, and ends at its next look
                asio::steady_timer forever(co_await asio::this_coro::executor, Clock::time_point::max());
                co_await forever.async_wait(
                    asio::as_tuple(asio::use_awaitable)); // ended by the failed renewal
            });
        EXPECT_TRUE(refused);
        EXPECT_EQ(bodies, 1);
        EXPECT_EQ(co_await scalar(pool, "SELECT owner || ' ' || progress FROM source_leases"), "thief ");
    });
}

} // namespace
} // namespace ferry::core
