// pg::Connection against a real PostgreSQL. Run them with scripts/testworld/run-pg-tests.sh BUILD_DIR, which
// starts a private server and sets FERRY_TEST_PG_URL; without it they fail (they are labelled "pg", so
// `ctest -L unit` leaves them out).
#include "bridge/pg/connection.hpp"
#include "bridge/pg/error.hpp"
#include "tests/support/pg_test_support.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <gtest/gtest.h>

namespace ferry::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using pg_test::require;
using pg_test::sleep_for;
using pg_test::Task;

class PgConnection : public pg_test::PgTest {
protected:
    /// These scenarios are short: 20 s rather than the usual 30 s.
    void run(Task body, std::chrono::seconds limit = 20s) { PgTest::run(std::move(body), limit); }

    asio::awaitable<std::unique_ptr<Connection>> connected(ConnectionOptions options = {}) {
        auto connection = std::make_unique<Connection>(context.get_executor(), url, options);
        co_await connection->connect();
        co_return connection;
    }
};

TEST_F(PgConnection, ParametersRoundTripAsDataNeverAsSql) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        const std::string hostile = "x'); DROP TABLE victims; --";
        const std::string unicode = "Grüße, 世界 🚀 \"double\" 'single' \\back$1";
        co_await c->execute("CREATE TEMP TABLE victims (v text)");
        co_await c->execute("INSERT INTO victims VALUES ($1)", params(hostile));
        const Result r = co_await c->execute("SELECT v, $1::text AS u, $2::text AS missing, $3::int + 1 AS n "
                                             "FROM victims",
                                             params(unicode, std::nullopt, "41"));
        require(r.rows() == 1, "one row, the table still there");
        EXPECT_EQ(r.get(0, "v"), hostile);
        EXPECT_EQ(r.get(0, "u"), unicode);
        EXPECT_EQ(r.get(0, "missing"), std::nullopt);
        EXPECT_EQ(r.get(0, 3), "42");
        EXPECT_EQ(r.column_name(1), "u");
        EXPECT_EQ(r.column_index("n"), 3);
        EXPECT_EQ(r.column_index("N"), std::nullopt);
        EXPECT_THROW(r.get(1, 0), std::out_of_range);
        EXPECT_THROW(r.get(0, "nope"), std::out_of_range);
    });
}

TEST_F(PgConnection, AffectedRowsAndCommandStatusAreReported) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        co_await c->execute("CREATE TEMP TABLE counted (n int)");
        const Result inserted =
            co_await c->execute("INSERT INTO counted SELECT generate_series(1, $1::int)", params("5"));
        EXPECT_EQ(inserted.affected_rows(), 5u);
        EXPECT_EQ(inserted.command_status(), "INSERT 0 5");
        const Result updated = co_await c->execute("UPDATE counted SET n = n * 10 WHERE n > 3");
        EXPECT_EQ(updated.affected_rows(), 2u);
        const Result script = co_await c->execute_script("DELETE FROM counted WHERE n = 1; SELECT count(*) "
                                                         "FROM counted");
        EXPECT_EQ(script.get(0, 0), "4");
    });
}

TEST_F(PgConnection, SqlErrorCarriesSqlstateAndTheConnectionStaysUsable) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        std::string sqlstate;
        bool lost = false;
        try {
            co_await c->execute("SELECT * FROM no_such_table");
        } catch (const ConnectionLost&) {
            lost = true;
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
            EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
        }
        EXPECT_FALSE(lost);
        EXPECT_EQ(sqlstate, "42P01");
        EXPECT_TRUE(c->is_open());
        co_await c->execute("CREATE TEMP TABLE unique_things (k text PRIMARY KEY)");
        co_await c->execute("INSERT INTO unique_things VALUES ($1)", params("a"));
        try {
            co_await c->execute("INSERT INTO unique_things VALUES ($1)", params("a"));
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23505");
        try {
            co_await c->execute("SELECT $1::text", params(std::string("nul\0byte", 8)));
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "22021") << "a NUL byte would silently cut the value short";
        const Result r = co_await c->execute("SELECT 1");
        EXPECT_EQ(r.get(0, 0), "1");
    });
}

TEST_F(PgConnection, PreparedStatementsRunWithParameters) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        co_await c->prepare("add", "SELECT $1::int + $2::int AS sum");
        const Result five = co_await c->execute_prepared("add", params("2", "3"));
        EXPECT_EQ(five.get(0, "sum"), "5");
        const Result minus = co_await c->execute_prepared("add", params("-10", "3"));
        EXPECT_EQ(minus.get(0, "sum"), "-7");
        std::string sqlstate;
        try {
            co_await c->prepare("add", "SELECT 1");
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "42P05");
        try {
            co_await c->execute_prepared("never_prepared");
        } catch (const Error& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "26000");
    });
}

TEST_F(PgConnection, CachedStatementsArePreparedOncePerSession) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        const std::string_view add = "SELECT $1::int + $2::int AS sum";
        const std::string_view count_prepared = "SELECT count(*) FROM pg_prepared_statements";
        for (int i = 0; i < 3; ++i) {
            const Result sum = co_await c->execute_cached(add, params(std::to_string(i), "10"));
            EXPECT_EQ(sum.get(0, "sum"), std::to_string(i + 10));
        }
        const Result one = co_await c->execute(count_prepared);
        EXPECT_EQ(one.get(0, 0), "1") << "three calls of one text prepare it once";
        co_await c->execute_cached(count_prepared);
        const Result two = co_await c->execute(count_prepared);
        EXPECT_EQ(two.get(0, 0), "2");
        // A new session starts with nothing prepared; the cache must not believe otherwise.
        c->close();
        co_await c->connect();
        const Result again = co_await c->execute_cached(add, params("1", "1"));
        EXPECT_EQ(again.get(0, "sum"), "2");
        const Result fresh = co_await c->execute(count_prepared);
        EXPECT_EQ(fresh.get(0, 0), "1");
    });
}

TEST_F(PgConnection, NotificationArrivesWithinOneSecondWhileIdle) {
    run([&]() -> asio::awaitable<void> {
        auto listener = co_await connected();
        auto sender = co_await connected();
        co_await listener->listen("ferry events"); // a name that needs quoting
        const int sender_pid = sender->backend_pid();
        bool sent = false; // the sender must finish before its connection goes out of scope
        asio::co_spawn(
            context,
            [&]() -> asio::awaitable<void> {
                co_await sleep_for(100ms);
                co_await sender->execute("SELECT pg_notify($1, $2)", params("ferry events", "wake up"));
                sent = true;
            },
            asio::detached);
        const auto start = Clock::now();
        asio::steady_timer deadline(context, 1s);
        auto got = co_await (listener->wait_notification() || deadline.async_wait(asio::use_awaitable));
        require(got.index() == 0, "a notification within 1 s");
        const Notification& n = std::get<0>(got);
        EXPECT_EQ(n.channel, "ferry events");
        EXPECT_EQ(n.payload, "wake up");
        EXPECT_EQ(n.backend_pid, sender_pid);
        EXPECT_LT(Clock::now() - start, 1s);
        for (int i = 0; i < 100 && !sent; ++i)
            co_await sleep_for(10ms);
        require(sent, "the sender's statement completed");
    });
}

TEST_F(PgConnection, NotificationArrivingDuringAStatementIsDeliveredToTheWaiter) {
    run([&]() -> asio::awaitable<void> {
        auto listener = co_await connected();
        auto sender = co_await connected();
        co_await listener->listen("jobs");
        std::optional<Notification> received;
        bool sent = false;
        asio::co_spawn(
            context, [&]() -> asio::awaitable<void> { received = co_await listener->wait_notification(); },
            asio::detached);
        asio::co_spawn(
            context,
            [&]() -> asio::awaitable<void> {
                co_await sleep_for(100ms);
                co_await sender->execute("NOTIFY jobs");
                sent = true;
            },
            asio::detached);
        const Result slept = co_await listener->execute("SELECT pg_sleep(0.4), 'done'");
        EXPECT_EQ(slept.get(0, 1), "done");
        for (int i = 0; i < 100 && !(received && sent); ++i)
            co_await sleep_for(10ms);
        require(received.has_value(), "the notification reached the waiter");
        require(sent, "the sender's statement completed");
        EXPECT_EQ(received->channel, "jobs");
        EXPECT_EQ(received->payload, "");
    });
}

TEST_F(PgConnection, TimeoutDropsTheConnectionAndReconnectWorks) {
    run([&]() -> asio::awaitable<void> {
        auto c = co_await connected();
        const auto start = Clock::now();
        bool timed_out = false;
        try {
            co_await c->execute("SELECT pg_sleep(5)", Params(), 200ms);
        } catch (const Timeout&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_LT(Clock::now() - start, 1s);
        EXPECT_FALSE(c->is_open());
        bool lost = false;
        try {
            co_await c->execute("SELECT 1");
        } catch (const ConnectionLost&) {
            lost = true;
        }
        EXPECT_TRUE(lost);
        co_await c->connect();
        const Result r = co_await c->execute("SELECT 2");
        EXPECT_EQ(r.get(0, 0), "2");
    });
}

TEST_F(PgConnection, ServerThatNeverAnswersTimesOutConnecting) {
    asio::ip::tcp::acceptor silent(context, {asio::ip::make_address("127.0.0.1"), 0}); // never accepts
    url = "host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) + " user=x dbname=x";
    run([&]() -> asio::awaitable<void> {
        ConnectionOptions options;
        options.connect_timeout = 300ms;
        Connection c(context.get_executor(), url, options);
        const auto start = Clock::now();
        bool timed_out = false;
        try {
            co_await c.connect();
        } catch (const Timeout&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_LT(Clock::now() - start, 2s);
        EXPECT_FALSE(c.is_open());
    });
}

TEST_F(PgConnection, WrongPasswordIsConnectionLostAndTheMessageHidesIt) {
    const auto at = url.find('@');
    const auto colon = url.rfind(':', at);
    ASSERT_NE(at, std::string::npos);
    url = url.substr(0, colon + 1) + "Wr0ngSecret" + url.substr(at);
    run([&]() -> asio::awaitable<void> {
        Connection c(context.get_executor(), url);
        std::string message;
        try {
            co_await c.connect();
        } catch (const ConnectionLost& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
        EXPECT_EQ(message.find("Wr0ngSecret"), std::string::npos) << message;
        EXPECT_EQ(c.description().find("Wr0ngSecret"), std::string::npos);
    });
}

} // namespace
} // namespace ferry::pg
