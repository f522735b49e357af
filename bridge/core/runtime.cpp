#include "bridge/core/runtime.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/connector_registry.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/core/hooks.hpp"
#include "bridge/core/http_api.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/core/outbox_vacuum.hpp"
#include "bridge/core/rooms.hpp"
#include "bridge/core/router.hpp"
#include "bridge/core/running_families.hpp"
#include "bridge/core/xmpp_delivery.hpp"
#include "bridge/http/client.hpp"
#include "bridge/http/server.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/pg/listener.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/store/message_map.hpp"
#include "bridge/store/migrations.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <optional>
#include <random>
#include <unistd.h>

namespace ferry::core {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

std::string lease_owner() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::random_device random;
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(random());
}

pg::PoolOptions pool_options(const Config& config) {
    pg::PoolOptions options;
    options.size = config.database.pool_size;
    return options;
}

/// True for the text form of a UUID (the outbox's idempotency keys, which Ferry sends as stanza ids).
bool is_uuid(std::string_view text) {
    if (text.size() != 36)
        return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c)))
            return false;
    }
    return true;
}

} // namespace

struct Runtime::Services {
    std::string owner = lease_owner(); ///< names this process's leases and its NOTIFYs
    asio::any_io_executor executor;
    Logger& logger;
    xmpp::StanzaDispatcher& stanzas;
    pg::Pool pool;
    store::MappingStore store;
    Outbox outbox;
    http::Client http_client; ///< every outbound HTTP request of every connector
    Metrics metrics;
    Inlet inlet; ///< how every message from outside enters the outbox
    FamilyContext family_context;
    RunningFamilies families;
    ConnectorRegistry registry;
    Rooms rooms;
    XmppDelivery xmpp_delivery; ///< delivers rows bound for XMPP (inbound conversations)
    Dispatcher dispatcher;
    pg::Listener outbox_listener; ///< wakes the dispatcher when another process enqueued rows
    OutboxVacuum vacuum;
    Router router;
    Hooks hooks;
    HttpApi http_api;
    HttpConfig http_config;
    std::optional<http::Server> http_server; ///< made by run() when http.port is set
    bool stopping = false;
    std::function<bool()> xmpp_online;

    Services(asio::any_io_executor executor, const Config& config, const FamilyList& family_list,
             xmpp::StanzaDispatcher& stanzas, std::function<bool()> xmpp_online, Logger& logger)
        : executor(executor), logger(logger), stanzas(stanzas),
          pool(executor, config.database.url, pool_options(config), logger),
          store(executor, pool, config.database.url, logger),
          outbox(executor, pool, logger, OutboxOptions{.origin = owner}), http_client(executor),
          inlet(outbox, metrics, logger), family_context{executor, store,
                                                         pool,     http_client,
                                                         inlet,    metrics,
                                                         stanzas,  logger,
                                                         owner,    config.component.secret},
          families(family_list, family_context), registry(store, families, logger), rooms(stanzas, logger),
          xmpp_delivery(executor, stanzas, store, pool, rooms, xmpp_online,
                        {.max_stanza_size = config.component.server_max_stanza_size}),
          dispatcher(
              executor, pool, [this](const ClaimedRow& row) { return deliverer(row); }, logger,
              DispatcherOptions{.owner = owner}),
          outbox_listener(executor, config.database.url, "ferry_outbox", "outbox listener", logger),
          vacuum(executor, pool, logger, [this] { return dispatcher.delivered(); }),
          router(executor, store, families, outbox, stanzas, logger), hooks(store, families, inlet, logger),
          http_api(hooks, metrics, pool, xmpp_online, [this] { return this->stanzas.rejected(); }),
          http_config(config.http), xmpp_online(std::move(xmpp_online)) {}

    Connector* deliverer(const ClaimedRow& row) {
        if (store::is_inbound_conversation(row.delivery.conversation))
            return &xmpp_delivery;
        return registry.find(row.connector_id);
    }

    std::string connector_name(std::int64_t id) const {
        const store::Connector* connector = store.snapshot()->connector(id);
        return connector != nullptr ? connector->name : std::to_string(id);
    }

    /// Delivery outcomes counted in /metrics, by connector (`xmpp` for rows bound for XMPP).
    void count_outcomes();
    /// Where each room seat left off (room_marks), and the ids rooms gave the messages Ferry bridged into
    /// them.
    void record_room_progress();
    /// Stanzas to Ferry's addresses: bounces logged, then rooms, the families' own addresses, the router.
    void take_stanzas();
    /// A dead letter of an XMPP message is told to its sender as an error.
    void report_dead_letters();
};

void Runtime::Services::count_outcomes() {
    dispatcher.on_outcome([this](const ClaimedRow& row, std::string_view outcome) {
        const std::string name = store::is_inbound_conversation(row.delivery.conversation)
                                     ? std::string("xmpp")
                                     : connector_name(row.connector_id);
        if (outcome == "delivered") {
            metrics.message_out(name);
            metrics.delivery_latency(row.age_seconds);
        } else if (outcome == "retry") {
            metrics.retry(name);
        } else {
            metrics.dead_letter(name);
        }
    });
}

void Runtime::Services::record_room_progress() {
    rooms.on_mark([this](const std::string& room, const std::string& seat, const Rooms::Mark& mark) {
        const auto at = seat.find('@');
        const store::Connector* connector =
            store.snapshot()->connector(xmpp::unescape_node(seat.substr(0, at)));
        if (connector == nullptr)
            return;
        const long long second =
            std::chrono::duration_cast<std::chrono::seconds>(mark.second.time_since_epoch()).count();
        std::string keys = "{";
        for (const std::string& key : mark.keys)
            keys += (keys.size() > 1 ? "," : "") + key;
        keys += "}";
        const std::string archive_id = mark.archive_id.size() <= 1024 ? mark.archive_id : std::string();
        asio::co_spawn(
            executor,
            [this, id = connector->id, room, second, keys, archive_id]() -> asio::awaitable<void> {
                pg::Lease lease = co_await pool.acquire();
                co_await lease->execute_cached(
                    "INSERT INTO room_marks (connector_id, room, seen_at, seen_keys, archive_id) "
                    "VALUES ($1, $2, to_timestamp($3::bigint), $4::text[], $5) "
                    "ON CONFLICT (connector_id, room) DO UPDATE SET seen_at = EXCLUDED.seen_at, "
                    "seen_keys = EXCLUDED.seen_keys, archive_id = EXCLUDED.archive_id "
                    "WHERE room_marks.seen_at <= EXCLUDED.seen_at",
                    pg::params(std::to_string(id), room, std::to_string(second), keys, archive_id));
            },
            [this, room](const std::exception_ptr& failure) {
                if (failure)
                    logger.debug("rooms: could not record where " + room + " was left off");
            });
    });
    rooms.on_reflected([this](const std::string& room, const std::string& seat, const std::string& nick,
                              const std::string& own_id, const std::string& room_id) {
        // Recorded beside the outbox key (the id Ferry sent), under the mapping's outbound conversation and
        // the occupant, as Dispatcher::record writes XMPP ids: an XMPP reply naming the room's id finds what
        // the message came from.
        if (!is_uuid(own_id) || room_id.size() > 1024)
            return; // not one Ferry delivered from the outbox (those carry the outbox key)
        const auto snapshot = store.snapshot();
        const std::string connector = xmpp::unescape_node(seat.substr(0, seat.find('@')));
        const std::string occupant = std::string(room) += "/" + nick;
        std::vector<store::MessageMapKey> keys;
        for (const store::Mapping* mapping : snapshot->mappings_for(room))
            if (mapping->connector_name == connector && store::carries_outbound(mapping->direction))
                keys.push_back(
                    store::message_map::xmpp_said(store::outbound_conversation(mapping->id), occupant));
        for (store::MessageMapKey& key : keys)
            asio::co_spawn(executor, store::message_map::record(pool, own_id, std::move(key), room_id),
                           [this, room](const std::exception_ptr& failure) {
                               if (failure)
                                   logger.debug("rooms: could not record the id " + room +
                                                " gave a bridged message");
                           });
    });
}

void Runtime::Services::take_stanzas() {
    rooms.on_archived([this](const xmpp::InboundStanza& message) { router.route_room(message); });
    stanzas.on_address([this](const xmpp::InboundStanza& stanza) {
        if (stanza.node.name() == "message" && xmpp::is_error_stanza(stanza.node)) {
            // A message Ferry sent came back (no such user, no available resource, not in the room): it was
            // recorded as delivered, so say so where an operator looks.
            logger.warning("the XMPP server bounced message " + std::string(stanza.node.attribute("id")) +
                           " to " + stanza.from.full() + ": " + xmpp::error_condition(stanza.node));
            return true;
        }
        return rooms.handle(stanza) || families.handle_stanza(stanza) || router.route(stanza);
    });
}

void Runtime::Services::report_dead_letters() {
    dispatcher.on_dead_letter([this](const core::Delivery& delivery, const std::string& reason) {
        const Message& m = delivery.message;
        if (m.source != "xmpp" || m.from.empty())
            return;
        // Tell the XMPP sender, as the address they wrote to, what became of their message.
        xmpp::XmlNode original("message");
        original.set_attribute("from", m.from);
        original.set_attribute("to", m.to);
        if (!m.source_id.empty())
            original.set_attribute("id", m.source_id);
        stanzas.send(xmpp::make_error_reply(original, "recipient-unavailable",
                                            "Ferry could not deliver this message to " +
                                                delivery.destination + ": " + reason));
    });
}

Runtime::Runtime(asio::any_io_executor executor, const Config& config, const FamilyList& families,
                 xmpp::StanzaDispatcher& stanzas, std::function<bool()> xmpp_online, Logger& logger)
    : services_(
          std::make_unique<Services>(executor, config, families, stanzas, std::move(xmpp_online), logger)) {
    Services& p = *services_;
    p.count_outcomes();
    p.outbox.on_committed([&p] { p.dispatcher.wake(); });
    p.outbox_listener.on_notification([&p](const pg::Notification& n) {
        if (n.payload != p.owner) // our own commits have woken the dispatcher already
            p.dispatcher.wake();
    });
    p.outbox_listener.on_listening([&p] { p.dispatcher.wake(); });
    p.record_room_progress();
    p.take_stanzas();
    p.report_dead_letters();
}

Runtime::~Runtime() = default;

asio::awaitable<void> Runtime::run(bool migrate) {
    Services& p = *services_;
    {
        pg::Lease lease = co_await p.pool.acquire();
        if (migrate)
            co_await store::migrate(*lease, p.logger);
        const store::SchemaStatus status = co_await store::schema_status(*lease);
        if (status.newer_than_binary())
            throw SchemaNotReady("the database schema is at version " +
                                 std::to_string(status.database_version) + ", newer than this ferry knows (" +
                                 std::to_string(status.binary_version) + "); upgrade ferry");
        if (!status.up_to_date())
            throw SchemaNotReady("the database schema is at version " +
                                 std::to_string(status.database_version) + " but this ferry needs " +
                                 std::to_string(status.binary_version) +
                                 ": run `ferry db migrate` first, or start with `ferry run --migrate`");
    }
    if (p.http_config.port != 0 && !p.stopping) {
        http::ServerSettings settings;
        settings.address = p.http_config.address;
        settings.port = p.http_config.port;
        settings.max_body_size = p.http_config.max_body_size;
        settings.max_connections = p.http_config.max_connections;
        settings.max_connections_per_address = p.http_config.max_connections_per_address;
        settings.header_timeout =
            std::chrono::milliseconds(static_cast<long>(p.http_config.header_timeout * 1000.0));
        settings.request_timeout =
            std::chrono::milliseconds(static_cast<long>(p.http_config.request_timeout * 1000.0));
        settings.tls_certificate = p.http_config.tls_certificate;
        settings.tls_key = p.http_config.tls_key;
        p.http_server.emplace(
            co_await asio::this_coro::executor, settings,
            [&p](const http::Request& request) { return p.http_api.handle(request); }, p.logger,
            [&p](std::string_view path, int status) {
                p.metrics.http_response(HttpApi::route_name(path), status);
            });
    }
    co_await (p.store.run() && p.outbox.run() && p.dispatcher.run() && p.outbox_listener.run() &&
              serve_http() && keep_room_seats() && trim_tables() && p.vacuum.run() &&
              p.families.run_sources());
}

void Runtime::xmpp_established() {
    Services& p = *services_;
    p.rooms.forget_all();
    // Rows for XMPP that backed off while the stream was down are due now, not after their backoff.
    asio::co_spawn(
        p.executor,
        [&p]() -> asio::awaitable<void> {
            pg::Lease lease = co_await p.pool.acquire();
            co_await lease->execute(
                "UPDATE outbox SET next_attempt_at = now() WHERE conversation LIKE 'mapping:%:in' "
                "AND next_attempt_at > now() AND lease_owner IS NULL");
            p.dispatcher.wake();
        },
        [&p](const std::exception_ptr& failure) {
            if (failure)
                p.logger.debug("outbox: could not make the rows for XMPP due after reconnecting");
        });
}

asio::awaitable<void> Runtime::trim_tables() {
    Services& p = *services_;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!p.stopping) {
        if (std::chrono::steady_clock::now() >= next) {
            next = std::chrono::steady_clock::now() + std::chrono::hours(1);
            try {
                if (const long forgotten = co_await store::message_map::forget_older_than(p.pool, 90))
                    p.logger.info("message_map: forgot " + std::to_string(forgotten) +
                                  " entries older than 90 days");
                pg::Lease lease = co_await p.pool.acquire();
                co_await lease->execute("DELETE FROM inbound_seen WHERE expires_at < now()");
            } catch (const pg::Error& e) {
                p.logger.warning(std::string("could not trim message_map and inbound_seen: ") + e.what());
            }
        }
        tick.expires_after(std::chrono::seconds(1));
        co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<void> Runtime::keep_room_seats() {
    Services& p = *services_;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    // Where each seat left off in its rooms (room_marks): its first join asks for the history since then.
    for (bool loaded = false; !loaded && !p.stopping;) {
        try {
            pg::Lease lease = co_await p.pool.acquire();
            const pg::Result marks =
                co_await lease->execute("SELECT c.name, m.room, extract(epoch FROM m.seen_at)::bigint, "
                                        "array_to_string(m.seen_keys, ','), m.archive_id "
                                        "FROM room_marks m JOIN connectors c ON c.id = m.connector_id");
            for (int r = 0; r < marks.rows(); ++r) {
                Rooms::Mark mark;
                mark.second =
                    Rooms::Clock::time_point(std::chrono::seconds(std::stoll(std::string(*marks.get(r, 2)))));
                std::string_view keys = *marks.get(r, 3);
                while (!keys.empty()) {
                    const auto comma = keys.find(',');
                    mark.keys.emplace(keys.substr(0, comma));
                    keys = comma == std::string_view::npos ? std::string_view() : keys.substr(comma + 1);
                }
                mark.archive_id = std::string(*marks.get(r, 4));
                p.rooms.set_mark(std::string(*marks.get(r, 1)),
                                 connector_seat(std::string(*marks.get(r, 0)), p.stanzas.domain()),
                                 std::move(mark));
            }
            loaded = true;
        } catch (const pg::Error& e) {
            p.logger.warning(std::string("rooms: cannot load where the rooms were left off, retrying: ") +
                             e.what());
        }
        if (!loaded) {
            tick.expires_after(std::chrono::seconds(2));
            co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
    while (!p.stopping) {
        // Rooms bridged outwards need Ferry's seat before anyone speaks: join (again) whatever is missing.
        if (p.xmpp_online()) {
            const auto snapshot = p.store.snapshot();
            for (const store::Mapping& m : snapshot->mappings()) {
                const store::Connector* c = snapshot->connector(m.connector_id);
                if (m.enabled && c != nullptr && c->enabled && maps_room(m) &&
                    store::carries_outbound(m.direction))
                    p.rooms.seated(m.xmpp_address, connector_seat(c->name, p.stanzas.domain()), seat_nick(m));
            }
        }
        tick.expires_after(std::chrono::seconds(1));
        co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<void> Runtime::serve_http() {
    if (services_->http_server)
        co_await services_->http_server->run();
}

void Runtime::stop() {
    services_->stopping = true;
    if (services_->http_server)
        services_->http_server->stop();
    services_->store.stop();
    services_->outbox.stop();
    services_->dispatcher.stop();
    services_->vacuum.stop();
    services_->outbox_listener.stop();
    services_->families.stop();
}

} // namespace ferry::core
