// OutboxVacuum against a real PostgreSQL: the outbox is vacuumed once enough rows were delivered, and not
// before. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR (sets FERRY_TEST_PG_URL).
#include "bridge/base/logger.hpp"
#include "bridge/core/outbox_vacuum.hpp"
#include "bridge/pg/pool.hpp"
#include "tests/support/store_test_support.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using pg_test::require;
using pg_test::sleep_for;
using store_test::count;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::Service;
using store_test::while_running;

class PgOutboxVacuum : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            connector_id = co_await prepare_store(c, logger, "DELETE FROM outbox", "vacuum-test");
        });
    }

    /// How often the outbox was vacuumed by hand (not by autovacuum) since the server started.
    static asio::awaitable<long> vacuum_count(pg::Pool& pool) {
        co_return co_await count(pool,
                                 "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'");
    }

    Logger logger{LogLevel::error};
    std::int64_t connector_id = 0;
};

TEST_F(PgOutboxVacuum, VacuumsTheOutboxOnceEnoughRowsWereDeliveredAndNotBefore) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), logger);
        // What a delivered row leaves: a dead tuple. 300 of them.
        co_await count(pool,
                       "WITH added AS (INSERT INTO outbox (connector_id, conversation, destination, payload) "
                       "SELECT $1::bigint, 'c', 'd', '{}'::jsonb FROM generate_series(1, 300) RETURNING id), "
                       "gone AS (DELETE FROM outbox WHERE id IN (SELECT id FROM added) RETURNING 1) "
                       "SELECT count(*) FROM gone",
                       pg::params(std::to_string(connector_id)));
        std::uint64_t delivered = 40;
        OutboxVacuum vacuum(
            context.get_executor(), pool, logger, [&] { return delivered; }, 100, 50ms);
        const long before = co_await vacuum_count(pool);
        std::vector<Service> services;
        services.push_back(Service{[&] { return vacuum.run(); }, [&] { vacuum.stop(); }});
        co_await while_running(std::move(services), [&]() -> asio::awaitable<void> {
            co_await sleep_for(100ms); // it has started, counting from 40
            delivered = 120;           // 80 since it started: not yet
            co_await sleep_for(400ms);
            EXPECT_EQ(vacuum.vacuums(), 0u);
            EXPECT_EQ(co_await vacuum_count(pool), before);
            delivered = 140; // 100 since it started
            const auto deadline = Clock::now() + 5s;
            while (vacuum.vacuums() == 0) {
                require(Clock::now() < deadline, "no VACUUM after 100 rows");
                co_await sleep_for(10ms);
            }
            co_await sleep_for(400ms);
        });
        EXPECT_EQ(vacuum.vacuums(), 1u) << "once per 100 rows, not on every tick";
        EXPECT_EQ(co_await vacuum_count(pool), before + 1) << "PostgreSQL counted the VACUUM of outbox";
    });
}

} // namespace
} // namespace ferry::core
