// ferry_outbox_worker: a test-only process that runs one Dispatcher, delivering every outbox row through a
// LogConnector that appends to OUTPUT_FILE, until SIGTERM or SIGINT (then it finishes the batch in hand,
// records its outcome and exits 0). tests/integration/test_outbox_processes.py runs several of them on one
// database and SIGKILLs one.
//
// Usage: ferry_outbox_worker CONNINFO OWNER OUTPUT_FILE [LEASE_MS [BATCH [ACK_DELAY_MS]]]
// ACK_DELAY_MS: after writing a line, wait this long before reporting the delivery done (a remote that
// acknowledges slowly), which widens the window in which a delivery has happened but is not recorded yet.
// It prints "ready" on stdout once it runs, and "delivered N" on stderr when it stops.
#include "bridge/base/logger.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/pg/pool.hpp"
#include "connectors/log/log_connector.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ferry::core::Delivery;
using ferry::core::DeliveryResult;

namespace {

/// Delivers through `inner`, then waits `delay` before answering.
class SlowAcknowledgement final : public ferry::core::Connector {
public:
    SlowAcknowledgement(Connector& inner, std::chrono::milliseconds delay) : inner_(inner), delay_(delay) {}

    asio::awaitable<DeliveryResult> send(const Delivery& delivery) override {
        DeliveryResult result = co_await inner_.send(delivery);
        if (delay_.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_return result;
    }

private:
    Connector& inner_;
    std::chrono::milliseconds delay_;
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 4 || argc > 7) {
        std::cerr
            << "usage: ferry_outbox_worker CONNINFO OWNER OUTPUT_FILE [LEASE_MS [BATCH [ACK_DELAY_MS]]]\n";
        return 2;
    }
    try {
        ferry::core::Logger logger(ferry::core::LogLevel::warning);
        asio::io_context context;

        ferry::pg::PoolOptions pool_options;
        pool_options.size = 2;
        pool_options.retry_min_delay = 100ms;
        pool_options.retry_max_delay = 2s;
        ferry::pg::Pool pool(context.get_executor(), argv[1], pool_options, logger);

        ferry::connectors::LogConnector log(argv[3]);
        SlowAcknowledgement connector(log, std::chrono::milliseconds(argc > 6 ? std::stol(argv[6]) : 0));
        ferry::core::DispatcherOptions options;
        options.owner = argv[2];
        if (argc > 4)
            options.lease = std::chrono::milliseconds(std::stol(argv[4]));
        if (argc > 5)
            options.batch = std::stoul(argv[5]);
        options.idle_poll = 100ms;
        options.retry_min_delay = 100ms;
        ferry::core::Dispatcher dispatcher(
            context.get_executor(), pool,
            [&connector](const ferry::core::ClaimedRow&) -> ferry::core::Connector* { return &connector; },
            logger, options);

        asio::signal_set signals(context, SIGTERM, SIGINT);
        signals.async_wait([&](const boost::system::error_code& error, int) {
            if (!error)
                dispatcher.stop();
        });
        int status = 0;
        asio::co_spawn(context, dispatcher.run(), [&](std::exception_ptr failure) {
            signals.cancel();
            if (!failure)
                return;
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                std::cerr << "ferry_outbox_worker: the dispatcher failed: " << e.what() << "\n";
            }
            status = 1;
        });
        std::cout << "ready" << std::endl;
        context.run();
        std::cerr << "delivered " << dispatcher.delivered() << "\n";
        return status;
    } catch (const std::exception& e) {
        std::cerr << "ferry_outbox_worker: " << e.what() << "\n";
        return 1;
    }
}
