// The inlet against a real PostgreSQL: what arrives is committed with its source id, counted in /metrics and
// logged once; a resend is a duplicate that writes nothing; a store too slow to commit in time says so, and
// the rows still arrive once it answers. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR.
#include "bridge/base/logger.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/http/client.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping.hpp"
#include "tests/support/store_test_support.hpp"

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using pg_test::sleep_for;
using store_test::count;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::service;
using store_test::services;
using store_test::while_running;

class PgInlet : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            connector.id = co_await prepare_store(c, quiet, "DELETE FROM outbox; DELETE FROM inbound_seen",
                                                  "inlet-test");
        });
        connector.name = "inlet-test";
        connector.kind = "webhook";
    }

    void TearDown() override { std::filesystem::remove(log_path); }

    Arrival arrival(int messages, std::string source_id) const {
        Arrival a;
        for (int i = 0; i < messages; ++i)
            a.entries.push_back({connector.id,
                                 store::inbound_conversation(1),
                                 "alice@example.org",
                                 {{"text", "message " + std::to_string(i)}}});
        a.source = SourceKey{connector.id, std::move(source_id), std::nullopt};
        a.summary = "a test payload";
        return a;
    }

    std::string log_text() const {
        std::ifstream in(log_path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    Logger quiet{LogLevel::error};
    std::string log_path =
        (std::filesystem::temp_directory_path() / ("ferry-inlet-test-" + std::to_string(::getpid()) + ".log"))
            .string();
    Logger logger{LogLevel::info, log_path};
    Metrics metrics;
    store::Connector connector;
};

TEST_F(PgInlet, CommitsCountsAndLogsOnceAndAResendIsADuplicate) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), quiet);
        Outbox outbox(context.get_executor(), pool, quiet);
        Inlet inlet(outbox, metrics, logger);

        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            EXPECT_EQ(co_await inlet.take(connector, "webhook", arrival(2, "delivery:1")),
                      InletOutcome::committed);
            EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox"), 2);
            EXPECT_EQ(co_await inlet.take(connector, "webhook", arrival(2, "delivery:1")),
                      InletOutcome::duplicate);
            EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox"), 2) << "a resend writes nothing";
        });
    });
    EXPECT_NE(metrics.render({}).find("ferry_messages_in_total{connector=\"inlet-test\"} 2\n"),
              std::string::npos)
        << metrics.render({});
    const std::string log = log_text();
    EXPECT_NE(log.find("webhook inlet-test: a test payload → 2 message(s) committed"), std::string::npos)
        << log;
    EXPECT_NE(log.find("webhook inlet-test: a test payload → already seen, nothing new"), std::string::npos)
        << log;
}

/// A family's directory of users: names every sender "Alice <id>".
class NamingDirectory final : public SenderNaming {
public:
    asio::awaitable<void> complete(const store::Connector& /*connector*/,
                                   std::vector<OutboxEntry>& entries) override {
        for (OutboxEntry& entry : entries)
            entry.payload["sender_name"] = "Alice " + entry.payload.value("from", std::string());
        ++calls;
        co_return;
    }
    int calls = 0;
};

TEST_F(PgInlet, TheSendersAreNamedBeforeTheRowsAreStored) {
    NamingDirectory directory;
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), quiet);
        Outbox outbox(context.get_executor(), pool, quiet);
        Inlet inlet(outbox, metrics, logger);

        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            Arrival named = arrival(1, "event:1");
            named.entries.front().payload["from"] = "U061F7AUR";
            named.names_from = &directory;
            EXPECT_EQ(co_await inlet.take(connector, "webhook", std::move(named)), InletOutcome::committed);
            EXPECT_EQ(co_await store_test::scalar(pool, "SELECT payload->>'sender_name' FROM outbox"),
                      "Alice U061F7AUR");
        });
    });
    EXPECT_EQ(directory.calls, 1);
}

TEST_F(PgInlet, AStoreTooSlowIsSaidAndTheRowsStillArriveOnceItAnswers) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(3), quiet);
        Outbox outbox(context.get_executor(), pool, quiet);
        Inlet inlet(outbox, metrics, logger, 300ms);

        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            pg::Lease blocker = co_await pool.acquire();
            co_await blocker->execute_script("BEGIN; LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE");
            EXPECT_EQ(co_await inlet.take(connector, "poller", arrival(1, "update:7")),
                      InletOutcome::store_slow);
            co_await blocker->execute_script("COMMIT");
            long rows = 0;
            for (int i = 0; i < 100 && rows == 0; ++i) {
                co_await sleep_for(50ms);
                rows = co_await count(pool, "SELECT count(*) FROM outbox");
            }
            EXPECT_EQ(rows, 1) << "the commit that was too slow still happens";
        });
    });
    EXPECT_NE(log_text().find("poller inlet-test: a test payload → not committed within 300 ms"),
              std::string::npos)
        << log_text();
    EXPECT_EQ(metrics.render({}).find("ferry_messages_in_total{connector=\"inlet-test\"}"), std::string::npos)
        << "nothing is counted before it is committed";
}

} // namespace
} // namespace ferry::core
