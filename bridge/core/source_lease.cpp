#include "bridge/core/source_lease.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/pg/within.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

namespace ferry::core {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::seconds statement_limit{2};

/// The body's end, success or failure, as a success: Asio's `||` stops its other branch only at the first
/// branch that succeeds.
asio::awaitable<void> captured(asio::awaitable<void> body, std::exception_ptr& failure) {
    try {
        co_await std::move(body);
    } catch (...) {
        failure = std::current_exception();
    }
}

asio::awaitable<bool> cancelled() {
    co_return (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;
}

} // namespace

SourceLease::SourceLease(pg::Pool& pool, std::string source, std::string owner, Logger& logger,
                         SourceLeaseOptions options)
    : pool_(pool), source_(std::move(source)), owner_(std::move(owner)), logger_(logger), options_(options) {}

asio::awaitable<void> SourceLease::run(std::function<bool()> wanted,
                                       std::function<asio::awaitable<void>(std::string)> body) {
    co_await asio::this_coro::throw_if_cancelled(false); // a cancelled run still gives its lease back
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (wanted() && !co_await cancelled()) {
        std::optional<std::string> progress = co_await try_acquire();
        if (!progress) {
            pause.expires_after(options_.retry_every);
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        logger_.info("source " + source_ + ": runs in this process");
        std::exception_ptr failure;
        const auto ended = co_await (captured(body(std::move(*progress)), failure) || keep_renewed());
        bool lost = ended.index() == 1;
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const SourceLeaseLost&) {
                lost = true;
                failure = nullptr;
            } catch (...) {
            }
        }
        if (lost && !co_await cancelled()) {
            logger_.warning("source " + source_ + ": another process holds it now; fetching stops here");
            continue;
        }
        co_await give_back();
        if (failure)
            std::rethrow_exception(failure);
        co_return;
    }
}

asio::awaitable<std::optional<std::string>> SourceLease::try_acquire() {
    try {
        pg::Lease connection = co_await pool_.acquire();
        const pg::Result taken = co_await connection->execute(
            "INSERT INTO source_leases (source, owner, lease_until) "
            "VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond') "
            "ON CONFLICT (source) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until "
            "WHERE source_leases.owner IS NULL OR source_leases.owner = EXCLUDED.owner "
            "OR source_leases.lease_until < now() "
            "RETURNING progress",
            pg::params(source_, owner_, std::to_string(options_.lease.count())), statement_limit);
        if (taken.rows() == 1)
            co_return std::string(taken.get(0, 0).value_or(""));
    } catch (const pg::ConnectionLost&) {
        // PostgreSQL is away (the dispatcher says so); asked again after retry_every.
    } catch (const pg::Error& e) {
        logger_.warning("source " + source_ + ": cannot ask for its lease: " + e.what());
    }
    co_return std::nullopt;
}

asio::awaitable<bool> SourceLease::renew() {
    pg::Lease connection = co_await pool_.acquire();
    const pg::Result renewed = co_await connection->execute(
        "UPDATE source_leases SET lease_until = now() + $3::bigint * interval '1 millisecond' "
        "WHERE source = $1 AND owner = $2",
        pg::params(source_, owner_, std::to_string(options_.lease.count())), statement_limit);
    co_return renewed.affected_rows() == 1;
}

asio::awaitable<void> SourceLease::keep_renewed() {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    auto renewed_at = Clock::now();
    for (;;) {
        pause.expires_after(options_.renew_every);
        co_await pause.async_wait(asio::use_awaitable); // cancelled with the body
        try {
            const std::optional<bool> held = co_await pg::within(statement_limit, renew());
            if (held && !*held)
                co_return; // another process took it: the lease had run out
            if (held)
                renewed_at = Clock::now();
        } catch (const pg::Error&) {
        }
        // Unconfirmed for so long that the lease may have run out: stop before another process starts.
        if (Clock::now() - renewed_at >= options_.lease - options_.renew_every)
            co_return;
    }
}

asio::awaitable<bool> SourceLease::release() {
    pg::Lease connection = co_await pool_.acquire();
    co_await connection->execute(
        "UPDATE source_leases SET owner = NULL, lease_until = NULL WHERE source = $1 AND owner = $2",
        pg::params(source_, owner_), statement_limit);
    co_return true;
}

asio::awaitable<void> SourceLease::give_back() {
    co_await asio::this_coro::reset_cancellation_state(); // so that the statement is not cancelled at once
    try {
        if (!co_await pg::within(statement_limit, release()))
            logger_.warning("source " + source_ +
                            ": could not give its lease back in time; it runs out by itself");
    } catch (const pg::Error& e) {
        logger_.warning("source " + source_ + ": could not give its lease back (" + e.what() +
                        "); it runs out by itself");
    }
}

asio::awaitable<void> SourceLease::save_progress(std::string_view progress) {
    pg::Lease connection = co_await pool_.acquire();
    const pg::Result saved =
        co_await connection->execute("UPDATE source_leases SET progress = $3, updated_at = now() "
                                     "WHERE source = $1 AND owner = $2 AND lease_until > now()",
                                     pg::params(source_, owner_, std::string(progress)), statement_limit);
    if (saved.affected_rows() != 1)
        throw SourceLeaseLost("source " + source_ + " is held by another process now");
}

} // namespace ferry::core
