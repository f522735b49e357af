// The outbox's promises (issue 3) against a real PostgreSQL, writing side: group commit, enqueue() returning
// only after COMMIT, inbound dedup, one row per entry even when a COMMIT's acknowledgement is lost, and
// nothing lost across a server restart. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR (sets
// FERRY_TEST_PG_URL and FERRY_TEST_PG_DIR). The delivering side is in pg_dispatcher_test.cpp.
#include "bridge/base/logger.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/migrations.hpp"
#include "tests/support/store_test_support.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using core::Delivery;
using core::DeliveryResult;

using pg_test::all_of;
using pg_test::describe;
using pg_test::require;
using pg_test::sleep_for;
using pg_test::Task;
using store_test::count;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::query;
using store_test::service;
using store_test::Service;
using store_test::services;
using store_test::while_running;

asio::awaitable<void> wait_until(std::function<bool()> done, Clock::duration limit, std::string what) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
        require(Clock::now() < deadline, what);
        co_await sleep_for(5ms);
    }
}

/// Runs trusted SQL that may hold several statements.
asio::awaitable<void> script(pg::Pool& pool, std::string sql) {
    pg::Lease lease = co_await pool.acquire();
    co_await lease->execute_script(sql);
}

/// count() that tries again on another connection when PostgreSQL drops one (a restart).
asio::awaitable<long> count_retrying(pg::Pool& pool, std::string_view sql) {
    for (;;) {
        bool lost = false;
        long value = 0;
        try {
            value = co_await count(pool, sql);
        } catch (const pg::ConnectionLost&) {
            lost = true;
        }
        if (!lost)
            co_return value;
        co_await sleep_for(50ms);
    }
}

std::vector<OutboxEntry> one(OutboxEntry entry) {
    std::vector<OutboxEntry> entries;
    entries.push_back(std::move(entry));
    return entries;
}

/// Test-only: a deferred constraint trigger runs inside COMMIT, so rows sent to 'slow-commit' make their
/// COMMIT take `seconds` on the server (only the first time when `once`: a sequence counts, rollbacks or
/// not).
std::string slow_commit_sql(double seconds, bool once) {
    std::ostringstream sql;
    sql << "CREATE SEQUENCE ferry_test_slow_commit_count;\n"
           "CREATE FUNCTION ferry_test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
           "BEGIN\n"
           "    IF nextval('ferry_test_slow_commit_count') = 1 OR TG_ARGV[1] = 'always' THEN\n"
           "        PERFORM pg_sleep(TG_ARGV[0]::double precision);\n"
           "    END IF;\n"
           "    RETURN NULL;\n"
           "END $$;\n"
           "CREATE CONSTRAINT TRIGGER ferry_test_slow_commit AFTER INSERT ON outbox DEFERRABLE INITIALLY "
           "DEFERRED\n"
           "    FOR EACH ROW WHEN (NEW.destination = 'slow-commit')\n"
           "    EXECUTE FUNCTION ferry_test_slow_commit('"
        << seconds << "', '" << (once ? "once" : "always") << "')";
    return sql.str();
}

constexpr std::string_view reset_sql = R"(
DROP TRIGGER IF EXISTS ferry_test_slow_commit ON outbox;
DROP FUNCTION IF EXISTS ferry_test_slow_commit();
DROP SEQUENCE IF EXISTS ferry_test_slow_commit_count;
DELETE FROM outbox;
DELETE FROM dead_letters;
DELETE FROM message_map;
DELETE FROM inbound_seen)";

/// Records every delivery; answers delivered.
class RecordingConnector final : public core::Connector {
public:
    asio::awaitable<DeliveryResult> send(const Delivery& delivery) override {
        deliveries.push_back(delivery);
        co_return DeliveryResult::delivered("remote-" + delivery.idempotency_key);
    }
    std::vector<Delivery> deliveries;
};

class PgOutbox : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        admin([&](pg::Connection& c) -> asio::awaitable<void> {
            connector_id = co_await prepare_store(c, logger, reset_sql, "outbox-test");
        });
    }

    void TearDown() override {
        if (url.empty())
            return;
        admin([&](pg::Connection& c) -> asio::awaitable<void> {
            co_await c.execute_script(reset_sql);
            co_await c.execute("DELETE FROM connectors WHERE name = 'outbox-test'");
        });
    }

    void admin(std::function<asio::awaitable<void>(pg::Connection&)> body) {
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            co_await body(c);
        });
    }

    OutboxEntry entry(std::string conversation, std::string destination, int seq) {
        Message m;
        m.source = "test";
        m.text = std::to_string(seq);
        m.timestamp = utc_timestamp();
        return {connector_id, std::move(conversation), std::move(destination), to_json(m)};
    }

    Logger logger{LogLevel::error};
    std::int64_t connector_id = 0;
};

TEST_F(PgOutbox, ConcurrentEnqueuesShareFewTransactionsAndReturnOnlyOnceVisibleElsewhere) {
    constexpr int callers = 2000;
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool observer(executor, url, pool_options(4),
                          logger); // other sessions: see only what is committed
        // One row makes its batch's COMMIT last 300 ms: an enqueue() answering before COMMIT would be seen.
        co_await script(observer, slow_commit_sql(0.3, false));
        pg::Pool pool(executor, url, pool_options(2), logger);
        Outbox outbox(executor, pool, logger);
        int committed = 0;
        int invisible = 0;
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            std::vector<Task> tasks;
            for (int i = 0; i < callers; ++i)
                tasks.push_back([&, i]() -> asio::awaitable<void> {
                    const std::string destination =
                        i == callers / 2 ? "slow-commit" : "gc-" + std::to_string(i);
                    if (co_await outbox.enqueue(one(entry("gc", destination, i))) == EnqueueResult::committed)
                        ++committed;
                    if (co_await count(observer, "SELECT count(*) FROM outbox WHERE destination = $1",
                                       pg::params(destination)) != 1)
                        ++invisible;
                });
            co_await all_of(std::move(tasks));
        });
        EXPECT_EQ(committed, callers);
        EXPECT_EQ(invisible, 0) << "enqueue() returned before its row was visible to another session";
        EXPECT_EQ(co_await count(observer, "SELECT count(*) FROM outbox WHERE conversation = 'gc'"), callers);
        // xmin is the id of the transaction that inserted the row.
        const long transactions = co_await count(
            observer, "SELECT count(DISTINCT xmin::text) FROM outbox WHERE conversation = 'gc'");
        EXPECT_GE(transactions, 1);
        EXPECT_LE(transactions, 20) << "group commit should write " << callers
                                    << " waiting enqueues in a few "
                                    << "transactions";
        std::cout << "group commit: " << callers << " enqueue() calls in " << transactions
                  << " transaction(s)\n";
    });
}

TEST_F(PgOutbox, RefusedRequestFailsAloneAndTheRestOfItsBatchIsCommitted) {
    constexpr int callers = 200;
    constexpr int bad_caller = 77;
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(2), logger);
        pg::Pool observer(executor, url, pool_options(1), logger);
        Outbox outbox(executor, pool, logger);
        int committed = 0;
        std::vector<std::string> refusals;
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            std::vector<Task> tasks;
            for (int i = 0; i < callers; ++i)
                tasks.push_back([&, i]() -> asio::awaitable<void> {
                    OutboxEntry e = entry("isolate", "to-" + std::to_string(i), i);
                    if (i == bad_caller)
                        e.connector_id = connector_id + 1000000; // no such connector: a foreign key violation
                    try {
                        if (co_await outbox.enqueue(one(std::move(e))) == EnqueueResult::committed)
                            ++committed;
                    } catch (const pg::Error& error) {
                        refusals.push_back(error.sqlstate() + " to-" + std::to_string(i));
                    }
                });
            co_await all_of(std::move(tasks)); // all queued before the committer runs: one batch
        });
        EXPECT_EQ(committed, callers - 1);
        EXPECT_EQ(refusals, std::vector<std::string>{"23503 to-" + std::to_string(bad_caller)});
        EXPECT_EQ(co_await count(observer, "SELECT count(*) FROM outbox WHERE conversation = 'isolate'"),
                  callers - 1);
        EXPECT_EQ(co_await count(observer, "SELECT count(*) FROM outbox WHERE destination = 'to-77'"), 0);
    });
}

TEST_F(PgOutbox, SameSourceKeyIsAcceptedOnceSequentiallyAndWithinOneBatch) {
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(2), logger);
        const std::optional<SourceKey> first = SourceKey{connector_id, "source-1", std::nullopt};
        const std::optional<SourceKey> second = SourceKey{connector_id, "source-2", std::nullopt};
        const std::optional<SourceKey> third = SourceKey{connector_id, "source-3", std::nullopt};

        Outbox outbox(executor, pool, logger);
        std::vector<EnqueueResult> sequential;
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            sequential.push_back(co_await outbox.enqueue(one(entry("dedup", "seq-a", 1)), first));
            sequential.push_back(co_await outbox.enqueue(one(entry("dedup", "seq-b", 2)), first));
        });
        EXPECT_EQ(sequential, (std::vector{EnqueueResult::committed, EnqueueResult::duplicate}));
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE destination IN ('seq-a', 'seq-b')"),
                  1);
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE destination = 'seq-a'"), 1);

        // Three requests wait before the committer starts, so they travel in one batch.
        Outbox batched(executor, pool, logger);
        std::map<std::string, EnqueueResult> results;
        std::string failures;
        const auto enqueue = [&](std::string destination, int seq, std::optional<SourceKey> key) {
            asio::co_spawn(executor, batched.enqueue(one(entry("dedup", destination, seq)), key),
                           [&, destination](std::exception_ptr e, EnqueueResult result) {
                               failures += describe(e);
                               results[destination] = result;
                           });
        };
        enqueue("batch-a", 3, second);
        enqueue("batch-b", 4, second);
        enqueue("batch-c", 5, third);
        co_await wait_until([&] { return batched.waiting() == 3; }, 5s, "three requests waiting");
        co_await while_running(services(service(batched)), [&]() -> asio::awaitable<void> {
            co_await wait_until([&] { return results.size() == 3; }, 10s, "three answers");
        });
        EXPECT_EQ(failures, "");
        EXPECT_EQ(results["batch-a"], EnqueueResult::committed);
        EXPECT_EQ(results["batch-b"], EnqueueResult::duplicate);
        EXPECT_EQ(results["batch-c"], EnqueueResult::committed);
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE destination = 'batch-a'"), 1);
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE destination = 'batch-b'"), 0);
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE destination = 'batch-c'"), 1);
        EXPECT_EQ(co_await count(
                      pool, "SELECT count(DISTINCT xmin::text) FROM outbox WHERE destination LIKE 'batch-%'"),
                  1)
            << "the three requests were meant to share one transaction";
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM inbound_seen WHERE connector_id = $1",
                                 pg::params(std::to_string(connector_id))),
                  3);
    });
}

TEST_F(PgOutbox, SourceKeyWithAWindowIsNewAgainOnceTheWindowHasPassed) {
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(2), logger);
        Outbox outbox(executor, pool, logger);
        const SourceKey reminder{connector_id, "alert-group-1", std::chrono::seconds(1)};
        std::vector<EnqueueResult> results;
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            results.push_back(co_await outbox.enqueue(one(entry("window", "first", 1)), reminder));
            results.push_back(co_await outbox.enqueue(one(entry("window", "resent", 2)), reminder));
            co_await sleep_for(1200ms);
            results.push_back(co_await outbox.enqueue(one(entry("window", "reminder", 3)), reminder));
            results.push_back(co_await outbox.enqueue(one(entry("window", "resent-again", 4)), reminder));
        });
        EXPECT_EQ(results, (std::vector<EnqueueResult>{EnqueueResult::committed, EnqueueResult::duplicate,
                                                       EnqueueResult::committed, EnqueueResult::duplicate}));
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE conversation = 'window'"), 2);
    });
}

TEST_F(PgOutbox, LostCommitAcknowledgementDoesNotWriteTheEntriesTwice) {
    // The server takes 1 s over the first COMMIT; the client gives up after 0.5 s, drops the connection and
    // writes the batch again. The first COMMIT still succeeds on the server: both attempts may land, and the
    // entries must nevertheless be one row each, under one idempotency key.
    const std::string log_path =
        (std::filesystem::temp_directory_path() / ("ferry-lost-ack-" + std::to_string(::getpid()) + ".log"))
            .string();
    std::filesystem::remove(log_path);
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool observer(executor, url, pool_options(1), logger);
        co_await script(observer, slow_commit_sql(1.0, true));
        auto options = pool_options(2);
        options.connection.query_timeout = 500ms;
        pg::Pool pool(executor, url, options, logger);
        Logger outbox_log(LogLevel::warning, log_path);
        Outbox outbox(executor, pool, outbox_log);
        std::optional<EnqueueResult> result;
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            std::vector<OutboxEntry> entries;
            entries.push_back(entry("lost-ack", "slow-commit", 1));
            entries.push_back(entry("lost-ack", "plain", 2));
            result = co_await outbox.enqueue(std::move(entries));
        });
        // The abandoned session may still be committing: wait until no backend sleeps in the trigger.
        const auto deadline = Clock::now() + 5s;
        for (;;) {
            const long sleeping = co_await count(
                observer, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
            if (sleeping == 0 || Clock::now() > deadline)
                break;
            co_await sleep_for(20ms);
        }
        EXPECT_EQ(result, EnqueueResult::committed);
        EXPECT_EQ(co_await count(observer, "SELECT count(*) FROM outbox WHERE destination = 'slow-commit'"),
                  1);
        EXPECT_EQ(co_await count(observer, "SELECT count(*) FROM outbox WHERE destination = 'plain'"), 1);
    });
    std::ifstream log(log_path);
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    std::filesystem::remove(log_path);
    EXPECT_NE(text.find("commit failed, retrying"), std::string::npos)
        << "the COMMIT was meant to time out and be retried; log:\n"
        << text;
}

TEST_F(PgOutbox, EveryMessageIsDeliveredWhenPostgresRestartsMidRun) {
    const char* dir = std::getenv("FERRY_TEST_PG_DIR");
    ASSERT_TRUE(dir && *dir) << "FERRY_TEST_PG_DIR is not set: this test restarts the server with "
                                "scripts/testworld/postgres.sh restart DIR (run-pg-tests.sh sets it)";
    const std::string restart = "bash '" FERRY_SOURCE_DIR "/scripts/testworld/postgres.sh' restart '" +
                                std::string(dir) + "' >/dev/null";
    constexpr int producers = 25;
    constexpr int per_producer = 200;
    constexpr int messages = producers * per_producer;
    std::atomic<bool> restarted = false;
    std::atomic<int> restart_status = -1;
    std::thread restarter;
    auto longest_enqueue = Clock::duration::zero();
    std::string started_before, started_after;
    RecordingConnector recorder;

    run(
        [&]() -> asio::awaitable<void> {
            const auto executor = context.get_executor();
            pg::Pool writer(executor, url, pool_options(2), logger);
            pg::Pool readers(executor, url, pool_options(2), logger);
            Outbox outbox(executor, writer, logger);
            DispatcherOptions options;
            options.owner = "restart";
            options.batch = 200;
            options.lease = 2s; // a claim whose answer was lost in the restart is free again soon
            options.idle_poll = 50ms;
            Dispatcher dispatcher(
                executor, readers,
                [&](const ClaimedRow& row) -> core::Connector* {
                    return row.connector_id == connector_id ? &recorder : nullptr;
                },
                logger, options);
            outbox.on_committed([&] { dispatcher.wake(); });
            {
                const pg::Result r = co_await query(writer, "SELECT pg_postmaster_start_time()::text");
                started_before = std::string(*r.get(0, 0));
            }
            int committed = 0;
            co_await while_running(
                services(service(outbox), service(dispatcher)), [&]() -> asio::awaitable<void> {
                    std::vector<Task> tasks;
                    for (int p = 0; p < producers; ++p)
                        tasks.push_back([&, p]() -> asio::awaitable<void> {
                            for (int j = 0; j < per_producer; ++j) {
                                const auto asked = Clock::now();
                                co_await outbox.enqueue(one(
                                    entry("conv-" + std::to_string(p % 10), "dest", p * per_producer + j)));
                                longest_enqueue = std::max(longest_enqueue, Clock::now() - asked);
                                ++committed;
                                co_await sleep_for(10ms);
                            }
                        });
                    tasks.push_back([&]() -> asio::awaitable<void> {
                        co_await wait_until([&] { return committed >= 500; }, 20s, "500 messages enqueued");
                        restarter = std::thread([&] {
                            restart_status = std::system(restart.c_str());
                            restarted = true;
                        });
                        co_await wait_until([&] { return restarted.load(); }, 60s, "the restart finished");
                    });
                    co_await all_of(std::move(tasks));
                    const auto deadline = Clock::now() + 30s;
                    while (co_await count_retrying(readers, "SELECT count(*) FROM outbox") > 0) {
                        require(Clock::now() < deadline, "the outbox drained within 30 s");
                        co_await sleep_for(20ms);
                    }
                });
            const pg::Result r = co_await query(writer, "SELECT pg_postmaster_start_time()::text");
            started_after = std::string(*r.get(0, 0));
            EXPECT_EQ(co_await count(writer, "SELECT count(*) FROM dead_letters"), 0);
        },
        60s);
    if (restarter.joinable())
        restarter.join();
    EXPECT_EQ(restart_status, 0);
    EXPECT_NE(started_before, started_after) << "the server was not restarted";
    EXPECT_GT(longest_enqueue, 100ms) << "no enqueue() had to wait for the server";

    std::map<int, std::set<std::string>> keys_by_message;
    for (const Delivery& d : recorder.deliveries)
        keys_by_message[std::stoi(d.message.text)].insert(d.idempotency_key);
    EXPECT_EQ(keys_by_message.size(), static_cast<std::size_t>(messages)) << "messages lost";
    int several_keys = 0;
    for (const auto& [seq, keys] : keys_by_message)
        several_keys += keys.size() > 1;
    EXPECT_EQ(several_keys, 0) << "a message delivered twice must carry the same idempotency key";
    const std::size_t duplicates = recorder.deliveries.size() - keys_by_message.size();
    std::cout << "restart: " << messages << " messages, " << recorder.deliveries.size() << " deliveries, "
              << duplicates << " duplicate(s) (same key), longest enqueue "
              << std::chrono::duration_cast<std::chrono::milliseconds>(longest_enqueue).count() << " ms\n";
}

} // namespace
} // namespace ferry::core
