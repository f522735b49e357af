#include "bridge/store/mapping_store.hpp"

#include "bridge/base/backoff.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/on_exit.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/pg/transaction.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <set>
#include <stdexcept>
#include <utility>
#include <variant>

namespace ferry::store {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view connectors_sql =
    "SELECT id, name, kind, settings::text AS settings, enabled FROM connectors ORDER BY id";
constexpr std::string_view mappings_sql =
    "SELECT id, xmpp_address, connector_id, remote_address, direction::text AS direction, "
    "options::text AS options, enabled FROM mappings ORDER BY id";

std::string text(const pg::Result& r, int row, std::string_view column) {
    return std::string(r.get(row, column).value_or(""));
}

std::int64_t integer(const pg::Result& r, int row, std::string_view column) {
    const std::string_view value = r.get(row, column).value_or("");
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size())
        throw pg::Error("mapping store: column " + std::string(column) + " is not an integer");
    return number;
}

bool boolean(const pg::Result& r, int row, std::string_view column) {
    return r.get(row, column) == "t";
}

nlohmann::json json(const pg::Result& r, int row, std::string_view column) {
    return nlohmann::json::parse(r.get(row, column).value_or("{}"));
}

std::vector<Connector> read_connectors(const pg::Result& r) {
    std::vector<Connector> connectors(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        Connector& c = connectors[static_cast<std::size_t>(row)];
        c.id = integer(r, row, "id");
        c.name = text(r, row, "name");
        c.kind = text(r, row, "kind");
        c.settings = json(r, row, "settings");
        c.enabled = boolean(r, row, "enabled");
    }
    return connectors;
}

std::vector<Mapping> read_mappings(const pg::Result& r) {
    std::vector<Mapping> mappings(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        Mapping& m = mappings[static_cast<std::size_t>(row)];
        m.id = integer(r, row, "id");
        m.xmpp_address = text(r, row, "xmpp_address");
        m.connector_id = integer(r, row, "connector_id");
        m.remote_address = text(r, row, "remote_address");
        const auto direction = parse_direction(r.get(row, "direction").value_or(""));
        if (!direction)
            throw pg::Error("mapping store: mapping " + std::to_string(m.id) + " has an unknown direction");
        m.direction = *direction;
        m.options = json(r, row, "options");
        m.enabled = boolean(r, row, "enabled");
    }
    return mappings;
}

std::string milliseconds(Clock::duration duration) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

} // namespace

MappingStore::MappingStore(asio::any_io_executor executor, pg::Pool& pool, std::string conninfo,
                           core::Logger& logger, MappingStoreOptions options)
    : executor_(executor), pool_(pool), logger_(logger), options_(options),
      snapshot_(std::make_shared<const MappingSnapshot>()),
      listener_(executor, std::move(conninfo), std::string(channel), "mapping store", logger,
                pg::ListenerOptions{options.retry_min_delay, options.retry_max_delay, options.connection}),
      wake_(executor), stopped_(executor, asio::steady_timer::time_point::max()),
      loaded_(executor, asio::steady_timer::time_point::max()) {
    listener_.on_notification([this](const pg::Notification&) { mark_dirty(); });
    // A load that began before LISTEN took effect may have missed a change; one that begins later sees it,
    // or is followed by its notification.
    listener_.on_listening([this] {
        if (loads_started_ > 0)
            mark_dirty();
    });
}

MappingStore::~MappingStore() = default;

void MappingStore::stop() {
    stopping_ = true;
    stopped_.cancel();
    loaded_.cancel();
}

void MappingStore::mark_dirty() {
    dirty_ = true;
    wake_.cancel();
}

asio::awaitable<void> MappingStore::run() {
    using namespace asio::experimental::awaitable_operators;
    if (running_)
        throw std::logic_error("MappingStore: one run() at a time");
    running_ = true;
    pg::OnExit done([this] { running_ = false; });
    if (stopping_)
        co_return;
    auto outcome = co_await (guarded(reload_loop()) || guarded(listener_.run()) || until_stopped());
    std::exception_ptr failure;
    if (outcome.index() == 0)
        failure = std::get<0>(outcome);
    else if (outcome.index() == 1)
        failure = std::get<1>(outcome);
    if (failure && !stopping_) {
        logger_.error("mapping store: stopped by an unexpected failure");
        std::rethrow_exception(failure);
    }
}

asio::awaitable<void> MappingStore::wait_loaded() {
    while (!loaded()) {
        if (stopping_)
            throw boost::system::system_error(asio::error::operation_aborted, "the mapping store stopped");
        co_await loaded_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<void> MappingStore::reload() {
    const std::uint64_t load = ++loads_started_;
    const auto started = Clock::now();
    std::vector<Connector> connectors;
    std::vector<Mapping> mappings;
    pg::Lease lease = co_await pool_.acquire();
    co_await pg::with_transaction(lease, [&](pg::Connection& c) -> asio::awaitable<void> {
        co_await c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        const pg::Result connector_rows = co_await c.execute(connectors_sql);
        connectors = read_connectors(connector_rows);
        const pg::Result mapping_rows = co_await c.execute(mappings_sql);
        mappings = read_mappings(mapping_rows);
    });
    lease.release();
    if (load < installed_load_)
        co_return; // a load that began later has already been installed
    auto next = std::make_shared<const MappingSnapshot>(std::move(connectors), std::move(mappings));
    std::size_t disabled = 0;
    for (const Connector& c : next->connectors())
        disabled += c.enabled ? 0 : 1;
    logger_.info("mapping store: loaded generation " + std::to_string(generation_ + 1) + " in " +
                 milliseconds(Clock::now() - started) + " ms: " + std::to_string(next->connectors().size()) +
                 " connectors (" + std::to_string(disabled) + " disabled), " +
                 std::to_string(next->mappings().size()) + " mappings (" + std::to_string(next->size()) +
                 " routable)");
    const auto& rejected = next->rejected();
    if (!rejected.empty() && rejected.size() != last_rejected_)
        logger_.warning("mapping store: " + std::to_string(rejected.size()) +
                        " enabled mappings cannot be routed; the first, mapping " +
                        std::to_string(rejected.front().id) + ": " + rejected.front().reason);
    last_rejected_ = rejected.size();
    // An operator's explicit choice, said again at start and whenever it is made: such a hook takes anyone's
    // requests.
    std::set<std::string> open;
    for (const Connector& c : next->connectors())
        if (c.enabled && text_setting(c.settings, "auth") == "none") {
            if (!open_hooks_.contains(c.name))
                logger_.warning("connector " + c.name +
                                " takes requests without authentication (auth=none): anyone who can reach "
                                "its hook can send messages through it");
            open.insert(c.name);
        }
    open_hooks_ = std::move(open);
    installed_load_ = load;
    snapshot_ = std::move(next);
    if (++generation_ == 1)
        loaded_.cancel();
}

asio::awaitable<void> MappingStore::reload_loop() {
    core::Backoff backoff(options_.retry_min_delay, options_.retry_max_delay);
    auto next_load = Clock::now();
    for (;;) {
        if (!dirty_ && Clock::now() < next_load) {
            wake_.expires_at(next_load);
            co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
            if (co_await ending())
                co_return;
            continue;
        }
        if (dirty_ && loaded())
            co_await sleep_until(Clock::now() + options_.debounce); // notifications meanwhile coalesce
        dirty_ = false;
        std::string failure;
        try {
            co_await reload();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (co_await ending())
            co_return;
        if (failure.empty()) {
            backoff.reset();
            next_load = Clock::now() + options_.poll_interval;
            continue;
        }
        const auto delay = backoff.next();
        logger_.warning("mapping store: reload failed (" + failure + "); keeping the current snapshot, " +
                        "retrying in " + milliseconds(delay) + " ms");
        next_load = Clock::now() + delay; // or sooner, on a notification
    }
}

asio::awaitable<void> MappingStore::until_stopped() {
    while (!stopping_)
        co_await stopped_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<std::exception_ptr> MappingStore::guarded(asio::awaitable<void> loop) {
    // A branch of `||` that throws would not end the race: failures become values.
    std::exception_ptr failure;
    try {
        co_await std::move(loop);
    } catch (...) {
        failure = std::current_exception();
    }
    co_return failure;
}

asio::awaitable<void> MappingStore::sleep_until(Clock::time_point until) {
    asio::steady_timer timer(executor_, until);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<bool> MappingStore::ending() {
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    co_return stopping_ || state.cancelled() != asio::cancellation_type::none;
}

} // namespace ferry::store
