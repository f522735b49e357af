// pg::Pool and with_transaction() against a real PostgreSQL, including a server restart in the middle of a
// run. Run them with scripts/testworld/run-pg-tests.sh BUILD_DIR (sets FERRY_TEST_PG_URL and
// FERRY_TEST_PG_DIR); without it they fail.
#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/pg/transaction.hpp"
#include "bridge/pg/within.hpp"
#include "tests/support/pg_test_support.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <thread>

namespace ferry::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using pg_test::all_of;
using pg_test::require;
using pg_test::scalar;
using pg_test::sleep_for;
using pg_test::Task;

class PgPool : public pg_test::PgTest {
protected:
    PoolOptions options(std::size_t size) {
        PoolOptions o;
        o.size = size;
        o.retry_min_delay = 50ms;
        o.retry_max_delay = 400ms;
        o.connection.connect_timeout = 3s;
        o.connection.query_timeout = 10s;
        return o;
    }

    core::Logger logger{core::LogLevel::warning};
};

TEST_F(PgPool, ManyConcurrentQueriesShareTheConnections) {
    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), url, options(3), logger);
        std::set<std::string> backends;
        std::size_t leased = 0;
        std::size_t most_leased = 0;
        int answered = 0;
        std::vector<Task> workers;
        for (int w = 0; w < 12; ++w)
            workers.push_back([&, w]() -> asio::awaitable<void> {
                for (int i = 0; i < 20; ++i) {
                    Lease lease = co_await pool.acquire();
                    most_leased = std::max(most_leased, ++leased);
                    const int n = w * 100 + i;
                    const Result r = co_await lease->execute(
                        "SELECT $1::int * 2, pg_backend_pid(), pg_sleep(0.002)", params(std::to_string(n)));
                    require(r.get(0, 0) == std::to_string(n * 2),
                            "the right answer for " + std::to_string(n));
                    backends.insert(std::string(*r.get(0, 1)));
                    --leased;
                    ++answered;
                }
            });
        co_await all_of(std::move(workers));
        EXPECT_EQ(answered, 240);
        EXPECT_EQ(most_leased, 3u);
        EXPECT_LE(backends.size(), 3u);
        EXPECT_EQ(pool.open(), 3u);
        EXPECT_EQ(pool.idle(), 3u);
    });
}

TEST_F(PgPool, TransactionRollsBackWhenTheBodyThrows) {
    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), url, options(2), logger);
        Lease lease = co_await pool.acquire();
        co_await lease->execute("CREATE TABLE IF NOT EXISTS pg_tx_test (v text)");
        co_await lease->execute("TRUNCATE pg_tx_test");
        std::string caught;
        try {
            co_await with_transaction(lease, [](Connection& c) -> asio::awaitable<void> {
                co_await c.execute("INSERT INTO pg_tx_test VALUES ($1)", params("rolled back"));
                throw std::runtime_error("boom");
            });
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
        EXPECT_EQ(caught, "boom");
        EXPECT_FALSE(lease->in_transaction());
        EXPECT_EQ(co_await scalar(*lease, "SELECT count(*) FROM pg_tx_test"), "0");

        co_await with_transaction(lease, [](Connection& c) -> asio::awaitable<void> {
            co_await c.execute("INSERT INTO pg_tx_test VALUES ($1)", params("kept"));
        });
        Lease other = co_await pool.acquire(); // another session sees the commit
        EXPECT_EQ(co_await scalar(*other, "SELECT string_agg(v, ',') FROM pg_tx_test"), "kept");

        std::string sqlstate;
        try {
            co_await with_transaction(lease, [](Connection& c) -> asio::awaitable<void> {
                try {
                    co_await c.execute("SELECT 1/0");
                } catch (const Error&) {
                } // swallowed: the transaction is aborted all the same
            });
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "25P02");
        EXPECT_FALSE(lease->in_transaction());
        co_await lease->execute("DROP TABLE pg_tx_test");
    });
}

TEST_F(PgPool, LeaseGivenBackInsideATransactionIsNotReused) {
    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), url, options(2), logger);
        {
            Lease lease = co_await pool.acquire();
            co_await lease->execute("BEGIN");
        }
        EXPECT_EQ(pool.open(), 0u);
        EXPECT_EQ(pool.idle(), 0u);
        Lease lease = co_await pool.acquire();
        EXPECT_FALSE(lease->in_transaction());
    });
}

TEST_F(PgPool, ConnectionKilledWhileIdleIsReplacedOnAcquire) {
    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), url, options(2), logger);
        std::string victim;
        {
            Lease lease = co_await pool.acquire();
            victim = std::to_string(lease->backend_pid());
        }
        {
            Connection killer(context.get_executor(), url);
            co_await killer.connect();
            EXPECT_EQ(co_await scalar(killer, "SELECT pg_terminate_backend($1::int)", params(victim)), "t");
        }
        co_await sleep_for(200ms);
        Lease lease = co_await pool.acquire();
        EXPECT_NE(std::to_string(lease->backend_pid()), victim);
        EXPECT_EQ(co_await scalar(*lease, "SELECT 'alive'"), "alive");
        EXPECT_EQ(pool.open(), 1u);
    });
}

TEST_F(PgPool, AcquireBacksOffWhilePostgresIsUnreachableAndCanBeAbandoned) {
    std::uint16_t port = 0;
    {
        asio::ip::tcp::acceptor probe(context, {asio::ip::make_address("127.0.0.1"), 0});
        port = probe.local_endpoint().port();
    } // closed again: connecting there is refused at once
    const auto log_path =
        std::filesystem::temp_directory_path() / ("ferry-pg-pool-" + std::to_string(port) + ".log");
    std::filesystem::remove(log_path);
    core::Logger file_logger(core::LogLevel::warning, log_path.string());
    const std::string nowhere = "postgresql://ferry:secret@127.0.0.1:" + std::to_string(port) + "/ferry";
    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), nowhere, options(4), file_logger);
        std::vector<Task> callers;
        int abandoned = 0;
        for (int i = 0; i < 4; ++i)
            callers.push_back([&]() -> asio::awaitable<void> {
                if (!co_await within(1000ms, pool.acquire()))
                    ++abandoned;
            });
        const auto start = Clock::now();
        co_await all_of(std::move(callers));
        EXPECT_EQ(abandoned, 4);
        EXPECT_LT(Clock::now() - start, 1500ms);
        EXPECT_TRUE(pool.unreachable());
        EXPECT_EQ(pool.open(), 0u);
    });
    std::ifstream log(log_path);
    int attempts = 0;
    for (std::string line; std::getline(log, line);) {
        attempts += line.find("retrying in") != std::string::npos;
        EXPECT_EQ(line.find("secret"), std::string::npos) << line;
    }
    // 4 callers discover the outage together; then one attempt at a time, 50 ms doubling to 400 ms.
    EXPECT_GE(attempts, 3);
    EXPECT_LE(attempts, 12) << "the pool retried too eagerly";
    std::filesystem::remove(log_path);
}

TEST_F(PgPool, AcquireWaitsWhilePostgresRestartsAndQueuedWorkCompletes) {
    const char* dir = std::getenv("FERRY_TEST_PG_DIR");
    ASSERT_TRUE(dir && *dir) << "FERRY_TEST_PG_DIR is not set: this test restarts the server with "
                                "scripts/testworld/postgres.sh restart DIR (run-pg-tests.sh sets it)";
    const std::string restart = "bash '" FERRY_SOURCE_DIR "/scripts/testworld/postgres.sh' restart '" +
                                std::string(dir) + "' >/dev/null";
    std::atomic<bool> restarted = false;
    std::atomic<int> restart_status = -1;
    std::thread restarter;
    constexpr int workers = 6;
    constexpr int jobs = 40;
    int completed = 0;
    int lost = 0;
    auto longest_acquire = Clock::duration::zero();
    std::string started_before;
    std::string started_after;

    run([&]() -> asio::awaitable<void> {
        Pool pool(context.get_executor(), url, options(4), logger);
        {
            Lease lease = co_await pool.acquire();
            co_await lease->execute("DROP TABLE IF EXISTS pg_restart_jobs");
            co_await lease->execute(
                "CREATE TABLE pg_restart_jobs (worker int, job int, PRIMARY KEY (worker, job))");
            started_before = co_await scalar(*lease, "SELECT pg_postmaster_start_time()::text");
        }
        std::vector<Task> tasks;
        for (int w = 0; w < workers; ++w)
            tasks.push_back([&, w]() -> asio::awaitable<void> {
                for (int job = 0; job < jobs; ++job) {
                    for (;;) { // the caller's retry: a lost connection may or may not have run the insert
                        try {
                            const auto asked = Clock::now();
                            Lease lease = co_await pool.acquire();
                            longest_acquire = std::max(longest_acquire, Clock::now() - asked);
                            co_await lease->execute("INSERT INTO pg_restart_jobs VALUES ($1::int, $2::int) "
                                                    "ON CONFLICT DO NOTHING",
                                                    params(std::to_string(w), std::to_string(job)));
                            break;
                        } catch (const ConnectionLost&) {
                            ++lost;
                        }
                    }
                    ++completed;
                    co_await sleep_for(25ms);
                }
            });
        tasks.push_back([&]() -> asio::awaitable<void> {
            while (completed < workers * 5)
                co_await sleep_for(5ms);
            restarter = std::thread([&] {
                restart_status = std::system(restart.c_str());
                restarted = true;
            });
            while (!restarted)
                co_await sleep_for(10ms);
        });
        co_await all_of(std::move(tasks));
        Lease lease = co_await pool.acquire();
        EXPECT_EQ(co_await scalar(*lease, "SELECT count(*) FROM pg_restart_jobs"),
                  std::to_string(workers * jobs));
        started_after = co_await scalar(*lease, "SELECT pg_postmaster_start_time()::text");
        co_await lease->execute("DROP TABLE pg_restart_jobs");
    });
    if (restarter.joinable())
        restarter.join();
    EXPECT_EQ(restart_status, 0);
    EXPECT_EQ(completed, workers * jobs);
    EXPECT_NE(started_before, started_after) << "the server was not restarted";
    EXPECT_GT(longest_acquire, 100ms) << "no acquire() had to wait for the server";
    std::cout << "restart: " << lost << " statements lost their connection; longest acquire "
              << std::chrono::duration_cast<std::chrono::milliseconds>(longest_acquire).count() << " ms\n";
}

} // namespace
} // namespace ferry::pg
