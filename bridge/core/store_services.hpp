#pragma once

#include "bridge/core/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

namespace ferry::xmpp {
class StanzaDispatcher;
}

namespace ferry::core {

class Logger;

/// Why the store could not start: the schema is not what this binary needs.
class SchemaNotReady : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// Everything `ferry run` does with PostgreSQL: the pool, the mapping snapshot, the outbox and its
/// dispatcher, the connectors, and the router that feeds XMPP messages into the outbox.
class StoreServices {
public:
    StoreServices(boost::asio::any_io_executor executor, const Config& config,
                  xmpp::StanzaDispatcher& stanzas, Logger& logger);
    ~StoreServices();
    StoreServices(const StoreServices&) = delete;
    StoreServices& operator=(const StoreServices&) = delete;

    /// Checks the schema (migrating it first when `migrate` is set; SchemaNotReady otherwise when it is not
    /// current), loads the mappings, then runs the store's loops until stop(). Waits while PostgreSQL is
    /// down.
    boost::asio::awaitable<void> run(bool migrate);
    /// Ends the loops: what is accepted is committed, the batch in hand is recorded.
    void stop();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

} // namespace ferry::core
