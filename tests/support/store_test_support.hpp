#pragma once
// Helpers shared by the outbox and dispatcher tests against a real PostgreSQL: run the store's loops beside a
// scenario, and read single values back. The generic helpers (require, sleep_for, all_of, the PgTest fixture)
// are in pg_test_support.hpp.
#include "bridge/base/logger.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/migrations.hpp"
#include "tests/support/pg_test_support.hpp"

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::core::store_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using pg_test::Clock;
using pg_test::describe;
using pg_test::require;
using pg_test::sleep_for;
using pg_test::Task;

/// A long-lived loop (Outbox::run, Dispatcher::run) and the call that ends it.
struct Service {
    std::function<asio::awaitable<void>()> run;
    std::function<void()> stop;
};
inline Service service(Outbox& outbox) {
    return {[&outbox] { return outbox.run(); }, [&outbox] { outbox.stop(); }};
}
inline Service service(Dispatcher& d) {
    return {[&d] { return d.run(); }, [&d] { d.stop(); }};
}
template <typename... S> std::vector<Service> services(S... list) {
    return std::vector<Service>{list...};
}

/// Runs `scenario` beside `services`; afterwards (also when it throws) stops them and waits until every run()
/// has returned, so no loop outlives the objects it works on. A run() that threw fails the scenario.
inline asio::awaitable<void> while_running(std::vector<Service> list, Task scenario) {
    const auto executor = co_await asio::this_coro::executor;
    auto left = std::make_shared<std::size_t>(list.size());
    auto failure = std::make_shared<std::string>();
    for (auto& s : list)
        asio::co_spawn(executor, s.run(), [left, failure](std::exception_ptr e) {
            if (e && failure->empty())
                *failure = "run() threw: " + describe(e);
            --*left;
        });
    std::exception_ptr scenario_failure;
    try {
        co_await scenario();
    } catch (...) {
        scenario_failure = std::current_exception();
    }
    for (auto& s : list)
        s.stop();
    const auto deadline = Clock::now() + 20s;
    while (*left > 0 && Clock::now() < deadline)
        co_await sleep_for(5ms);
    if (scenario_failure)
        throw std::runtime_error(describe(scenario_failure) +
                                 (failure->empty() ? "" : " (" + *failure + ")"));
    require(*left == 0, "every run() returned after stop()");
    require(failure->empty(), *failure);
}

/// A pool that reconnects quickly (the tests restart PostgreSQL) and gives up on a statement after 10 s.
inline pg::PoolOptions pool_options(std::size_t size = 2) {
    pg::PoolOptions o;
    o.size = size;
    o.retry_min_delay = 50ms;
    o.retry_max_delay = 400ms;
    o.connection.connect_timeout = 3s;
    o.connection.query_timeout = 10s;
    return o;
}

/// Brings the schema up to date, runs `reset_sql`, and makes sure an enabled connector named `name` exists;
/// returns its id.
inline asio::awaitable<std::int64_t> prepare_store(pg::Connection& c, Logger& logger,
                                                   std::string_view reset_sql, std::string name) {
    co_await store::migrate(c, logger);
    co_await c.execute_script(reset_sql);
    const pg::Result r = co_await c.execute("INSERT INTO connectors (name, kind) VALUES ($1, 'test') "
                                            "ON CONFLICT (name) DO UPDATE SET enabled = true RETURNING id",
                                            pg::params(std::move(name)));
    co_return std::stoll(std::string(*r.get(0, 0)));
}

inline asio::awaitable<pg::Result> query(pg::Pool& pool, std::string_view sql,
                                         pg::Params values = pg::Params()) {
    pg::Lease lease = co_await pool.acquire();
    co_return co_await lease->execute(sql, std::move(values));
}

inline asio::awaitable<std::string> scalar(pg::Pool& pool, std::string_view sql,
                                           pg::Params values = pg::Params()) {
    const pg::Result r = co_await query(pool, sql, std::move(values));
    co_return std::string(r.get(0, 0).value_or("NULL"));
}

inline asio::awaitable<long> count(pg::Pool& pool, std::string_view sql, pg::Params values = pg::Params()) {
    co_return std::stol(co_await scalar(pool, sql, std::move(values)));
}
} // namespace ferry::core::store_test
