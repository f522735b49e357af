#pragma once

#include "bridge/core/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>

namespace ferry::xmpp {
class StanzaDispatcher;
}

namespace ferry::core {

class FamilyList;
class Logger;

/// Why the store could not start: the schema is not what this binary needs.
class SchemaNotReady : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// Everything `ferry run` does beside the component stream: the pool, the mapping snapshot, the outbox and
/// its dispatcher, the families of connectors (their connectors, hooks and sources), the router that feeds
/// XMPP messages into the outbox, and the HTTP listener (hooks, /healthz, /metrics) when http.port is set.
class Runtime {
public:
    /// `xmpp_online` tells whether the component stream is established (rows for XMPP wait while it is not).
    Runtime(boost::asio::any_io_executor executor, const Config& config, const FamilyList& families,
            xmpp::StanzaDispatcher& stanzas, std::function<bool()> xmpp_online, Logger& logger);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    /// Checks the schema (migrating it first when `migrate` is set; SchemaNotReady otherwise when it is not
    /// current), loads the mappings, then runs the store's loops until stop(). Waits while PostgreSQL is
    /// down.
    boost::asio::awaitable<void> run(bool migrate);
    /// Ends the loops: what is accepted is committed, the batch in hand is recorded.
    void stop();
    /// The component stream (re)connected: rooms are joined again, waiting rows retried.
    void xmpp_established();

private:
    boost::asio::awaitable<void> serve_http();
    boost::asio::awaitable<void> keep_room_seats();
    /// Hourly: forgets message_map entries older than 90 days and expired inbound_seen ids.
    boost::asio::awaitable<void> trim_tables();
    /// What the runtime runs (pool, store, outbox, dispatcher, families, rooms, router, HTTP), wired
    /// together.
    struct Services;
    std::unique_ptr<Services> services_;
};

} // namespace ferry::core
