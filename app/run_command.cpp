#include "app/run_command.hpp"

#include "bridge/base/build_info.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/core/runtime.hpp"
#include "bridge/xmpp/component_stream.hpp"
#include "bridge/xmpp/entity_services.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "connectors/families.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

namespace ferry::app {

using namespace core;

namespace asio = boost::asio;

namespace {

std::chrono::milliseconds to_millis(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

xmpp::ComponentSettings stream_settings(const ComponentConfig& c) {
    xmpp::ComponentSettings s;
    s.domain = c.domain;
    s.host = c.host;
    s.port = c.port;
    s.secret = c.secret;
    s.tls = c.tls;
    s.tls_verify = c.tls_verify;
    s.limits.max_stanza_size = c.max_stanza_size;
    s.limits.max_depth = c.max_depth;
    s.server_max_stanza_size = c.server_max_stanza_size;
    s.reconnect_min_delay = to_millis(c.reconnect_min_delay);
    s.reconnect_max_delay = to_millis(c.reconnect_max_delay);
    s.keepalive_interval = to_millis(c.keepalive_interval);
    s.keepalive_timeout = to_millis(c.keepalive_timeout);
    s.send_queue_limit = c.send_queue_limit;
    return s;
}

LogLevel level_of(const LogConfig& log) {
    return parse_log_level(log.level).value_or(LogLevel::info);
}

} // namespace

int run_component(const Config& config, const std::vector<std::string>& args,
                  const std::vector<std::string>& environment, RunOptions options) {
    Logger logger(level_of(config.log), config.log.file);
    asio::io_context context(1);

    xmpp::ComponentStream stream(context.get_executor(), stream_settings(config.component), logger);
    xmpp::StanzaDispatcher dispatcher(
        config.component.domain, [&stream](const xmpp::XmlNode& stanza) { stream.send(stanza); }, logger);
    dispatcher.on_send_delivery(
        [&stream](const xmpp::XmlNode& stanza, const std::shared_ptr<xmpp::DeliveryTicket>& ticket) {
            stream.send(stanza, ticket);
        });
    xmpp::register_entity_services(dispatcher, {.software_version = ferry_version});
    stream.on_stanza([&dispatcher](xmpp::XmlNode stanza) { dispatcher.dispatch(stanza); });
    stream.on_refused([&dispatcher](const xmpp::XmlNode& head, const std::string& reason) {
        dispatcher.refuse(head, reason);
    });
    std::unique_ptr<Runtime> runtime;
    if (!config.database.url.empty())
        runtime = std::make_unique<Runtime>(
            context.get_executor(), config, connectors::families(), dispatcher,
            [&stream] { return stream.connected(); }, logger);

    if (runtime)
        stream.on_established([&runtime] { runtime->xmpp_established(); });
    asio::signal_set signals(context, SIGINT, SIGTERM, SIGHUP);
    asio::steady_timer stop_deadline(context);
    bool stop_requested = false;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& error, int signal) {
            if (error)
                return;
            if (signal == SIGHUP) {
                logger.reopen();
                try {
                    const Config reloaded = load_config(args, environment);
                    logger.set_level(level_of(reloaded.log));
                    logger.info("SIGHUP: log reopened, log level " + reloaded.log.level);
                } catch (const ConfigError& e) {
                    logger.error(std::string("SIGHUP: configuration not reloaded: ") + e.what());
                }
            } else if (stop_requested) {
                logger.warning("second stop signal: exiting without waiting");
                context.stop();
            } else {
                stop_requested = true;
                logger.info(signal == SIGTERM ? "SIGTERM received" : "SIGINT received");
                stream.stop();
                if (runtime)
                    runtime->stop();
                // A server that never answers must not keep us alive.
                stop_deadline.expires_after(std::chrono::seconds(3));
                stop_deadline.async_wait([&](const boost::system::error_code& e) {
                    if (!e) {
                        logger.warning("stream did not close within 3 s; exiting");
                        context.stop();
                    }
                });
            }
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);

    int exit_code = exit_failure;
    int running = runtime ? 2 : 1;
    const auto finished = [&] {
        if (--running == 0) {
            signals.cancel();
            stop_deadline.cancel();
        }
    };
    logger.info(std::string("ferry ") + ferry_version + " starting: component " + config.component.domain +
                " via " + config.component.host + ":" + std::to_string(config.component.port));
    const auto on_stream_end = [&](const std::exception_ptr& failure, xmpp::StreamOutcome outcome) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                logger.error("component stream failed: " + error_text(e));
            }
            exit_code = exit_failure;
        } else {
            switch (outcome) {
            case xmpp::StreamOutcome::stopped:
                exit_code = exit_ok;
                break;
            case xmpp::StreamOutcome::not_authorized:
                exit_code = exit_not_authorized;
                break;
            case xmpp::StreamOutcome::host_unknown:
                exit_code = exit_host_unknown;
                break;
            }
        }
        if (runtime && exit_code != exit_ok)
            runtime->stop(); // the stream gave up for good: so does the rest
        finished();
    };
    asio::co_spawn(context, stream.run(), on_stream_end);
    int store_exit_code = exit_ok;
    if (runtime) {
        asio::co_spawn(context, runtime->run(options.migrate), [&](const std::exception_ptr& failure) {
            if (failure) {
                try {
                    std::rethrow_exception(failure);
                } catch (const SchemaNotReady& e) {
                    logger.error(e.what());
                    store_exit_code = exit_schema;
                } catch (const std::exception& e) {
                    logger.error("store failed: " + error_text(e));
                    store_exit_code = exit_failure;
                }
                stop_requested = true;
                stream.stop();
            }
            finished();
        });
    }
    context.run();
    if (store_exit_code != exit_ok)
        return store_exit_code;
    if (stop_requested && exit_code == exit_failure)
        exit_code = exit_ok; // forced exit after a stop request is still an orderly stop
    return exit_code;
}

} // namespace ferry::app
