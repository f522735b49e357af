// The outbox's promises (issue 3) against a real PostgreSQL, delivering side: order per conversation, exactly
// once with two dispatchers, retries with backoff and Retry-After, dead letters, and a dead owner's leases
// taken over. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR (sets FERRY_TEST_PG_URL). The writing side
// is in pg_outbox_test.cpp.
#include "bridge/base/logger.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/migrations.hpp"
#include "tests/support/store_test_support.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using core::Delivery;
using core::DeliveryResult;

using pg_test::require;
using pg_test::sleep_for;
using store_test::count;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::query;
using store_test::scalar;
using store_test::service;
using store_test::Service;
using store_test::services;
using store_test::while_running;

/// Waits until the outbox is empty and `done()` holds.
asio::awaitable<void> drained(pg::Pool& pool, std::function<bool()> done, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
        const long left = co_await count(pool, "SELECT count(*) FROM outbox");
        if (left == 0 && done())
            co_return;
        require(Clock::now() < deadline, std::to_string(left) + " row(s) still in the outbox");
        co_await sleep_for(20ms);
    }
}

/// Records every call to send() with its time; answers with `answer`, or delivered.
class RecordingConnector final : public core::Connector {
public:
    struct Call {
        Delivery delivery;
        Clock::time_point at;
    };
    using Answer = std::function<asio::awaitable<DeliveryResult>(const Delivery&)>;
    explicit RecordingConnector(Answer answer = nullptr) : answer_(std::move(answer)) {}

    asio::awaitable<DeliveryResult> send(const Delivery& delivery) override {
        calls.push_back(Call{delivery, Clock::now()});
        if (!answer_)
            co_return DeliveryResult::delivered("remote-" + delivery.idempotency_key);
        DeliveryResult result = co_await answer_(delivery);
        co_return result;
    }
    /// The calls for one message (by text), in order.
    std::vector<Call> of(const std::string& text) const {
        std::vector<Call> found;
        for (const Call& c : calls)
            if (c.delivery.message.text == text)
                found.push_back(c);
        return found;
    }
    /// The texts delivered in `conversation`, in call order.
    std::vector<std::string> texts(const std::string& conversation) const {
        std::vector<std::string> found;
        for (const Call& c : calls)
            if (c.delivery.conversation == conversation)
                found.push_back(c.delivery.message.text);
        return found;
    }

    std::vector<Call> calls;

private:
    Answer answer_;
};

constexpr std::string_view reset_sql = R"(
DELETE FROM outbox;
DELETE FROM dead_letters;
DELETE FROM message_map;
DELETE FROM inbound_seen)";

class PgDispatcher : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            connector_id = co_await prepare_store(c, logger, reset_sql, "dispatcher-test");
        });
    }

    void TearDown() override {
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            co_await c.execute_script(reset_sql);
            co_await c.execute("DELETE FROM connectors WHERE name = 'dispatcher-test'");
        });
    }

    DispatcherOptions options(std::string owner, std::size_t batch = 100) {
        DispatcherOptions o;
        o.owner = std::move(owner);
        o.batch = batch;
        o.lease = 10s;
        o.idle_poll = 50ms;
        o.retry_min_delay = 50ms;
        o.retry_max_delay = 200ms;
        return o;
    }

    Dispatcher::ConnectorLookup lookup(core::Connector& connector) {
        return [this, &connector](const ClaimedRow& row) {
            return row.connector_id == connector_id ? &connector : nullptr;
        };
    }

    OutboxEntry entry(std::string conversation, std::string text) {
        Message m;
        m.source = "test";
        m.text = std::move(text);
        m.timestamp = utc_timestamp();
        std::string destination = "to-" + conversation;
        return {connector_id, std::move(conversation), std::move(destination), to_json(m)};
    }

    /// Enqueues the entries one enqueue() call each, in order, through a short-lived Outbox on `pool`.
    asio::awaitable<void> enqueue_each(pg::Pool& pool, std::vector<OutboxEntry> entries) {
        Outbox outbox(context.get_executor(), pool, logger);
        co_await while_running(services(service(outbox)), [&]() -> asio::awaitable<void> {
            for (OutboxEntry& e : entries) {
                std::vector<OutboxEntry> one;
                one.push_back(std::move(e));
                co_await outbox.enqueue(std::move(one));
            }
        });
    }

    Logger logger{LogLevel::error};
    std::int64_t connector_id = 0;
};

TEST_F(PgDispatcher, EachConversationIsDeliveredInEnqueueOrder) {
    constexpr int conversations = 3;
    constexpr int per_conversation = 200;
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(3), logger);
        Outbox outbox(executor, pool, logger);
        // Each message takes its own time (0–1.6 ms), so deliveries interleave unlike their enqueues, and
        // sends of one conversation that overlapped would complete out of order.
        std::map<std::string, std::vector<std::string>> completed;
        RecordingConnector recorder([&](const Delivery& d) -> asio::awaitable<DeliveryResult> {
            co_await sleep_for(std::chrono::microseconds(400 * ((std::stoi(d.message.text) * 7) % 5)));
            completed[d.conversation].push_back(d.message.text);
            co_return DeliveryResult::delivered();
        });
        Dispatcher dispatcher(executor, pool, lookup(recorder), logger, options("order", 50));
        outbox.on_committed([&] { dispatcher.wake(); });
        co_await while_running(
            services(service(outbox), service(dispatcher)), [&]() -> asio::awaitable<void> {
                // Interleaved c0 #0, c1 #0, c2 #0, c0 #1, …, in waves of concurrent enqueue() calls (several
                // transactions) while the dispatcher already claims.
                for (int wave = 0; wave < 10; ++wave) {
                    std::size_t left = 0;
                    for (int i = wave * 20; i < (wave + 1) * 20; ++i)
                        for (int c = 0; c < conversations; ++c) {
                            std::vector<OutboxEntry> one;
                            one.push_back(entry("c" + std::to_string(c), std::to_string(i)));
                            ++left;
                            asio::co_spawn(executor, outbox.enqueue(std::move(one)),
                                           [&left](std::exception_ptr, EnqueueResult) { --left; });
                        }
                    while (left > 0)
                        co_await sleep_for(1ms);
                }
                co_await drained(
                    pool, [&] { return recorder.calls.size() >= conversations * per_conversation; }, 20s);
            });
        std::vector<std::string> expected;
        for (int i = 0; i < per_conversation; ++i)
            expected.push_back(std::to_string(i));
        for (int c = 0; c < conversations; ++c) {
            EXPECT_EQ(recorder.texts("c" + std::to_string(c)), expected) << "sends of conversation c" << c;
            EXPECT_EQ(completed["c" + std::to_string(c)], expected) << "completions of conversation c" << c;
        }
    });
}

TEST_F(PgDispatcher, TwoDispatchersDeliverEveryMessageExactlyOnce) {
    constexpr int messages = 10000;
    constexpr int conversations = 50;
    run(
        [&]() -> asio::awaitable<void> {
            const auto executor = context.get_executor();
            pg::Pool writer(executor, url, pool_options(), logger);
            pg::Pool pool_a(executor, url, pool_options(), logger);
            pg::Pool pool_b(executor, url, pool_options(), logger);
            Outbox outbox(executor, writer, logger);
            RecordingConnector recorder; // both dispatchers deliver to it: it sees every delivery
            // Claims of 10 rows take at most 10 of the 50 conversation heads, so the other dispatcher always
            // finds free conversations; with claims as large as the backlog one of them could take every
            // head.
            Dispatcher a(executor, pool_a, lookup(recorder), logger, options("owner-a", 10));
            Dispatcher b(executor, pool_b, lookup(recorder), logger, options("owner-b", 10));
            outbox.on_committed([&] {
                a.wake();
                b.wake();
            });
            co_await while_running(
                services(service(outbox), service(a), service(b)), [&]() -> asio::awaitable<void> {
                    std::size_t left = 0;
                    for (int k = 0; k < messages / 100; ++k) {
                        std::vector<OutboxEntry> entries;
                        for (int seq = k * 100; seq < (k + 1) * 100; ++seq)
                            entries.push_back(
                                entry("c" + std::to_string(seq % conversations), std::to_string(seq)));
                        ++left;
                        asio::co_spawn(executor, outbox.enqueue(std::move(entries)),
                                       [&left](std::exception_ptr, EnqueueResult) { --left; });
                    }
                    while (left > 0)
                        co_await sleep_for(5ms);
                    co_await drained(
                        writer, [] { return true; }, 40s);
                });
            std::map<std::string, int> per_key;
            std::set<int> seqs;
            for (const auto& call : recorder.calls) {
                ++per_key[call.delivery.idempotency_key];
                seqs.insert(std::stoi(call.delivery.message.text));
            }
            int repeated = 0;
            for (const auto& [key, n] : per_key)
                repeated += n != 1;
            EXPECT_EQ(recorder.calls.size(), static_cast<std::size_t>(messages));
            EXPECT_EQ(per_key.size(), static_cast<std::size_t>(messages));
            EXPECT_EQ(repeated, 0) << "idempotency keys delivered more than once";
            EXPECT_EQ(seqs.size(), static_cast<std::size_t>(messages));
            EXPECT_EQ(a.delivered() + b.delivered(), static_cast<std::uint64_t>(messages));
            EXPECT_GT(a.delivered(), 0u) << "dispatcher a never won a claim";
            EXPECT_GT(b.delivered(), 0u) << "dispatcher b never won a claim";
            EXPECT_EQ(co_await count(writer, "SELECT count(*) FROM message_map"), messages);
            for (int c = 0; c < conversations; ++c) {
                std::vector<std::string> texts = recorder.texts("c" + std::to_string(c));
                require(std::is_sorted(texts.begin(), texts.end(),
                                       [](const std::string& x, const std::string& y) {
                                           return std::stoi(x) < std::stoi(y);
                                       }),
                        "conversation c" + std::to_string(c) + " delivered in order across both dispatchers");
            }
            std::cout << "exactly once: owner-a delivered " << a.delivered() << ", owner-b " << b.delivered()
                      << "\n";
        },
        60s);
}

TEST_F(PgDispatcher, TransientFailuresAreRetriedInOrderWithAttemptsRecordedAndRetryAfterHonoured) {
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(), logger);
        pg::Pool observer(executor, url, pool_options(), logger);
        std::vector<std::string> flaky_rows; // "attempt:attempts in the row:last_error" as send() found them
        std::string slow_asked_at;           // the database's clock when Retry-After was answered
        std::string slow_next_attempt_ok;
        RecordingConnector recorder([&](const Delivery& d) -> asio::awaitable<DeliveryResult> {
            if (d.message.text == "flaky") {
                const pg::Result row = co_await query(
                    observer,
                    "SELECT attempts, coalesce(last_error, '-') FROM outbox WHERE idempotency_key = $1",
                    pg::params(d.idempotency_key));
                flaky_rows.push_back(std::to_string(d.attempt) + ":" + std::string(*row.get(0, 0)) + ":" +
                                     std::string(*row.get(0, 1)));
                if (d.attempt <= 2)
                    co_return DeliveryResult::retry("flaky " + std::to_string(d.attempt));
            } else if (d.message.text == "slow" && d.attempt == 1) {
                slow_asked_at = co_await scalar(observer, "SELECT now()::text");
                co_return DeliveryResult::retry("429 slow down", std::chrono::milliseconds(1500));
            } else if (d.message.text == "slow") {
                slow_next_attempt_ok = co_await scalar(
                    observer,
                    "SELECT (next_attempt_at >= $2::timestamptz + interval '1.5 seconds')::text FROM outbox "
                    "WHERE idempotency_key = $1",
                    pg::params(d.idempotency_key, slow_asked_at));
            }
            co_return DeliveryResult::delivered();
        });
        std::vector<OutboxEntry> entries;
        entries.push_back(entry("flaky", "flaky"));
        entries.push_back(entry("flaky", "after-1"));
        entries.push_back(entry("flaky", "after-2"));
        entries.push_back(entry("steady", "steady-1"));
        entries.push_back(entry("steady", "steady-2"));
        entries.push_back(entry("slow", "slow"));
        co_await enqueue_each(pool, std::move(entries));
        Dispatcher dispatcher(executor, pool, lookup(recorder), logger, options("retry"));
        co_await while_running(services(service(dispatcher)), [&]() -> asio::awaitable<void> {
            co_await drained(
                pool, [] { return true; }, 10s);
        });

        EXPECT_EQ(flaky_rows, (std::vector<std::string>{"1:0:-", "2:1:flaky 1", "3:2:flaky 2"}));
        EXPECT_EQ(recorder.texts("flaky"),
                  (std::vector<std::string>{"flaky", "flaky", "flaky", "after-1", "after-2"}))
            << "later messages of the conversation wait behind the one being retried";
        EXPECT_EQ(recorder.of("after-1").at(0).delivery.attempt, 1);
        EXPECT_EQ(recorder.texts("steady"), (std::vector<std::string>{"steady-1", "steady-2"}));
        EXPECT_LT(recorder.of("steady-2").at(0).at, recorder.of("flaky").at(1).at)
            << "another conversation does not wait for the flaky one";
        const auto slow = recorder.of("slow");
        require(slow.size() == 2, "slow tried twice");
        EXPECT_EQ(slow[1].delivery.attempt, 2);
        EXPECT_GE(slow[1].at - slow[0].at, 1500ms) << "Retry-After was not honoured";
        EXPECT_EQ(slow_next_attempt_ok, "true") << "next_attempt_at < the time of the answer + Retry-After";
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM dead_letters"), 0);
    });
}

TEST_F(PgDispatcher, PermanentFailuresAndExhaustedRetriesBecomeDeadLetters) {
    run([&]() -> asio::awaitable<void> {
        const auto executor = context.get_executor();
        pg::Pool pool(executor, url, pool_options(), logger);
        RecordingConnector recorder([](const Delivery& d) -> asio::awaitable<DeliveryResult> {
            if (d.message.text == "no-such-user")
                co_return DeliveryResult::failed("550 5.1.1 no such user");
            if (d.message.text == "always-busy" || d.message.text == "too-old")
                co_return DeliveryResult::retry("421 busy");
            co_return DeliveryResult::delivered();
        });
        std::vector<OutboxEntry> entries;
        entries.push_back(entry("perm", "no-such-user"));
        entries.push_back(entry("perm", "next"));
        entries.push_back(entry("busy", "always-busy"));
        entries.push_back(entry("old", "too-old"));
        co_await enqueue_each(pool, std::move(entries));
        co_await query(pool,
                       "UPDATE outbox SET created_at = now() - interval '6 days' WHERE conversation = 'old'");
        const pg::Result keys = co_await query(pool, "SELECT payload->>'text', idempotency_key FROM outbox");
        std::map<std::string, std::string> key_of;
        for (int r = 0; r < keys.rows(); ++r)
            key_of[std::string(*keys.get(r, 0))] = std::string(*keys.get(r, 1));

        auto o = options("dead-letters");
        o.max_attempts = 3;
        Dispatcher dispatcher(executor, pool, lookup(recorder), logger, o);
        std::map<std::string, std::string> handled; // key -> reason
        std::map<std::string, std::string> handled_text;
        dispatcher.on_dead_letter([&](const Delivery& d, const std::string& reason) {
            handled[d.idempotency_key] += reason;
            handled_text[d.idempotency_key] = d.message.text + " to " + d.destination;
        });
        co_await while_running(services(service(dispatcher)), [&]() -> asio::awaitable<void> {
            co_await drained(
                pool, [&] { return handled.size() >= 3; }, 10s);
        });

        const pg::Result dead = co_await query(
            pool,
            "SELECT payload->>'text', idempotency_key, attempts, reason, destination FROM dead_letters");
        std::map<std::string, std::vector<std::string>> rows; // text -> key, attempts, reason, destination
        for (int r = 0; r < dead.rows(); ++r)
            for (int c = 1; c < 5; ++c)
                rows[std::string(*dead.get(r, 0))].push_back(std::string(*dead.get(r, c)));
        require(rows.size() == 3, "three dead letters, not " + std::to_string(rows.size()));
        EXPECT_EQ(rows["no-such-user"], (std::vector<std::string>{key_of["no-such-user"], "1",
                                                                  "550 5.1.1 no such user", "to-perm"}));
        EXPECT_EQ(rows["always-busy"].at(0), key_of["always-busy"]);
        EXPECT_EQ(rows["always-busy"].at(1), "3");
        EXPECT_EQ(rows["always-busy"].at(2).rfind("gave up after 3 attempts", 0), 0u)
            << rows["always-busy"].at(2);
        EXPECT_NE(rows["always-busy"].at(2).find("421 busy"), std::string::npos);
        EXPECT_EQ(rows["too-old"].at(0), key_of["too-old"]);
        EXPECT_EQ(rows["too-old"].at(1), "1") << "too old: no second attempt";
        EXPECT_EQ(recorder.of("always-busy").size(), 3u);
        EXPECT_EQ(recorder.of("too-old").size(), 1u);
        EXPECT_EQ(recorder.texts("perm"), (std::vector<std::string>{"no-such-user", "next"}))
            << "a dead letter does not block its conversation";
        for (const auto& text : {"no-such-user", "always-busy", "too-old"}) {
            const std::string& key = key_of[text];
            EXPECT_EQ(handled[key], rows[text].at(2)) << "the handler got the recorded reason for " << text;
            EXPECT_EQ(handled_text[key], std::string(text) + " to " + rows[text].at(3));
        }
    });
}

TEST_F(PgDispatcher, RowsOfADeadOwnerAreDeliveredByAnotherOnceItsLeaseExpires) {
    std::map<std::string, std::string> keys; // key -> text of every row
    std::set<std::string> seen_by_dead;
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(), logger);
        std::vector<OutboxEntry> entries;
        for (int i = 0; i < 4; ++i)
            for (const char* c : {"a", "b", "c"})
                entries.push_back(entry(c, std::string(c) + std::to_string(i)));
        co_await enqueue_each(pool, std::move(entries));
        const pg::Result r = co_await query(pool, "SELECT idempotency_key, payload->>'text' FROM outbox");
        for (int i = 0; i < r.rows(); ++i)
            keys[std::string(*r.get(i, 0))] = std::string(*r.get(i, 1));
    });
    ASSERT_EQ(keys.size(), 12u);

    // A process that claims the rows with a 1 s lease, hangs inside send(), and is gone: its io_context,
    // connections and coroutines are destroyed in the middle of the delivery.
    const auto claim_started = Clock::now();
    {
        asio::io_context dead_context;
        pg::Pool dead_pool(dead_context.get_executor(), url, pool_options(1), logger);
        RecordingConnector stuck([](const Delivery&) -> asio::awaitable<DeliveryResult> {
            asio::steady_timer never(co_await asio::this_coro::executor, Clock::time_point::max());
            co_await never.async_wait(asio::use_awaitable);
            co_return DeliveryResult::delivered();
        });
        auto o = options("dead");
        o.lease = 1s;
        Dispatcher dead(dead_context.get_executor(), dead_pool, lookup(stuck), logger, o);
        asio::co_spawn(dead_context, dead.run(), asio::detached);
        while (stuck.calls.size() < 3 && Clock::now() - claim_started < 10s)
            dead_context.run_one_for(50ms);
        for (const auto& call : stuck.calls)
            seen_by_dead.insert(call.delivery.idempotency_key);
        dead_context.stop();
    }
    ASSERT_EQ(seen_by_dead.size(), 3u)
        << "the stuck dispatcher was meant to hold one delivery per conversation";

    RecordingConnector live;
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(), logger);
        EXPECT_EQ(co_await count(pool, "SELECT count(*) FROM outbox WHERE lease_owner = 'dead'"), 12);
        Dispatcher alive(context.get_executor(), pool, lookup(live), logger, options("alive"));
        co_await while_running(services(service(alive)), [&]() -> asio::awaitable<void> {
            co_await drained(
                pool, [&] { return live.calls.size() >= 12; }, 10s);
        });
    });
    std::map<std::string, std::string> delivered;
    for (const auto& call : live.calls)
        delivered[call.delivery.idempotency_key] = call.delivery.message.text;
    EXPECT_EQ(live.calls.size(), 12u);
    EXPECT_EQ(delivered, keys) << "every row delivered once, under the key it had";
    for (const auto& key : seen_by_dead)
        EXPECT_TRUE(delivered.contains(key)) << "the interrupted delivery is repeated with the same key";
    ASSERT_FALSE(live.calls.empty());
    EXPECT_GE(live.calls.front().at - claim_started, 950ms) << "the lease was not honoured";
    for (const char* c : {"a", "b", "c"})
        EXPECT_EQ(live.texts(c), (std::vector<std::string>{std::string(c) + "0", std::string(c) + "1",
                                                           std::string(c) + "2", std::string(c) + "3"}));
}

} // namespace
} // namespace ferry::core
