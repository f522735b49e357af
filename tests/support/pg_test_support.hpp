#pragma once
// Helpers shared by the tests against a real PostgreSQL (tests/unit/pg_*_test.cpp): a fixture base that finds
// the server and drives a scenario coroutine to its end, and small async helpers for inside scenarios. Run
// those tests with scripts/testworld/run-pg-tests.sh BUILD_DIR, which starts a private server and sets
// FERRY_TEST_PG_URL (and FERRY_TEST_PG_DIR).
#include "bridge/pg/connection.hpp"

#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::pg_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Task = std::function<asio::awaitable<void>()>;

/// Fails the running coroutine: ASSERT_* cannot be used in a coroutine (it would `return`), so this ends the
/// scenario with an exception instead, which run() reports.
inline void require(bool condition, const std::string& what) {
    if (!condition)
        throw std::runtime_error("requirement failed: " + what);
}

/// The message of `error` ("" when there is none, or when it is not a std::exception).
inline std::string describe(const std::exception_ptr& error) {
    try {
        if (error)
            std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

inline asio::awaitable<void> sleep_for(Clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

/// Runs every task concurrently and returns when all have finished; rethrows the first failure.
inline asio::awaitable<void> all_of(std::vector<Task> tasks) {
    const auto executor = co_await asio::this_coro::executor;
    std::size_t left = tasks.size();
    std::exception_ptr first_failure;
    asio::steady_timer finished(executor, asio::steady_timer::time_point::max());
    for (auto& task : tasks)
        asio::co_spawn(executor, std::move(task), [&](std::exception_ptr error) {
            if (error && !first_failure)
                first_failure = error;
            if (--left == 0)
                finished.cancel();
        });
    if (left > 0)
        co_await finished.async_wait(asio::as_tuple(asio::use_awaitable));
    if (first_failure)
        std::rethrow_exception(first_failure);
}

/// The first column of the first row of `sql`'s answer, "NULL" for SQL NULL.
inline asio::awaitable<std::string> scalar(pg::Connection& connection, std::string_view sql,
                                           pg::Params values = pg::Params()) {
    const pg::Result r = co_await connection.execute(sql, std::move(values));
    co_return std::string(r.get(0, 0).value_or("NULL"));
}

/// Fixture base: SetUp() fails the test unless FERRY_TEST_PG_URL names a server. A derived SetUp() calls
/// PgTest::SetUp() first and returns when `url` is still empty.
class PgTest : public testing::Test {
protected:
    void SetUp() override {
        const char* value = std::getenv("FERRY_TEST_PG_URL");
        if (!value || !*value)
            GTEST_FAIL()
                << "FERRY_TEST_PG_URL is not set: these tests need a PostgreSQL server. Run "
                   "scripts/testworld/run-pg-tests.sh BUILD_DIR, or scripts/testworld/postgres.sh start DIR "
                   "and export the FERRY_TEST_PG_URL it prints (and FERRY_TEST_PG_DIR=DIR).";
        url = value;
    }

    /// Runs `body` on `context` until it finishes, at most `limit`; an exception fails the test. Can be
    /// called several times per test: work left over from an earlier call stays queued and runs alongside.
    void run(Task body, std::chrono::seconds limit = 30s) {
        // Shared with the completion handler: a scenario that overran `limit` may still end in a later call.
        struct Outcome {
            bool done = false;
            std::string failure;
        };
        auto outcome = std::make_shared<Outcome>();
        asio::co_spawn(context, std::move(body), [outcome](const std::exception_ptr& e) {
            outcome->done = true;
            outcome->failure = describe(e);
        });
        context.restart();
        const auto deadline = Clock::now() + limit;
        while (!outcome->done && Clock::now() < deadline)
            context.run_one_for(100ms);
        ASSERT_TRUE(outcome->done) << "the scenario did not finish within " << limit.count() << " s";
        EXPECT_EQ(outcome->failure, "");
    }

    std::string url;
    asio::io_context context;
};

} // namespace ferry::pg_test
