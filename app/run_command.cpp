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

/// One `ferry run`: the component stream and its stanzas, the runtime of the store (when database.url is
/// set), and the signals that stop it or reopen the log.
class FerryProcess {
public:
    FerryProcess(const Config& config, const std::vector<std::string>& args,
                 const std::vector<std::string>& environment)
        : args_(args), environment_(environment), logger_(level_of(config.log), config.log.file), context_(1),
          stream_(context_.get_executor(), stream_settings(config.component), logger_),
          stanzas_(
              config.component.domain, [this](const xmpp::XmlNode& stanza) { stream_.send(stanza); },
              logger_),
          signals_(context_, SIGINT, SIGTERM, SIGHUP), stop_deadline_(context_) {
        connect_stanzas();
        if (!config.database.url.empty()) {
            runtime_ = std::make_unique<Runtime>(
                context_.get_executor(), config, connectors::families(), stanzas_,
                [this] { return stream_.connected(); }, logger_);
            stream_.on_established([this] { runtime_->xmpp_established(); });
        }
        logger_.info(std::string("ferry ") + ferry_version + " starting: component " +
                     config.component.domain + " via " + config.component.host + ":" +
                     std::to_string(config.component.port));
    }

    /// Runs until both the stream and the runtime have ended; the process's exit code.
    int run(bool migrate) {
        signals_.async_wait(
            [this](const boost::system::error_code& error, int signal) { on_signal(error, signal); });
        running_ = runtime_ ? 2 : 1;
        asio::co_spawn(context_, stream_.run(),
                       [this](const std::exception_ptr& failure, xmpp::StreamOutcome outcome) {
                           on_stream_end(failure, outcome);
                       });
        if (runtime_)
            asio::co_spawn(context_, runtime_->run(migrate),
                           [this](const std::exception_ptr& failure) { on_runtime_end(failure); });
        context_.run();
        if (runtime_exit_code_ != exit_ok)
            return runtime_exit_code_;
        if (stop_requested_ && stream_exit_code_ == exit_failure)
            return exit_ok; // forced exit after a stop request is still an orderly stop
        return stream_exit_code_;
    }

private:
    void connect_stanzas() {
        stanzas_.on_send_delivery(
            [this](const xmpp::XmlNode& stanza, const std::shared_ptr<xmpp::DeliveryTicket>& ticket) {
                stream_.send(stanza, ticket);
            });
        xmpp::register_entity_services(stanzas_, {.software_version = ferry_version});
        stream_.on_stanza([this](xmpp::XmlNode stanza) { stanzas_.dispatch(stanza); });
        stream_.on_refused(
            [this](const xmpp::XmlNode& head, const std::string& reason) { stanzas_.refuse(head, reason); });
    }

    void on_signal(const boost::system::error_code& error, int signal) {
        if (error)
            return;
        if (signal == SIGHUP)
            reload_log();
        else if (stop_requested_) {
            logger_.warning("second stop signal: exiting without waiting");
            context_.stop();
        } else {
            stop(signal == SIGTERM ? "SIGTERM received" : "SIGINT received");
        }
        signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
    }

    /// SIGHUP: the log file reopened, the log level read again from the same sources.
    void reload_log() {
        logger_.reopen();
        try {
            const Config reloaded = load_config(args_, environment_);
            logger_.set_level(level_of(reloaded.log));
            logger_.info("SIGHUP: log reopened, log level " + reloaded.log.level);
        } catch (const ConfigError& e) {
            logger_.error(std::string("SIGHUP: configuration not reloaded: ") + e.what());
        }
    }

    void stop(const std::string& why) {
        stop_requested_ = true;
        logger_.info(why);
        stream_.stop();
        if (runtime_)
            runtime_->stop();
        // A server that never answers must not keep us alive.
        stop_deadline_.expires_after(std::chrono::seconds(3));
        stop_deadline_.async_wait([this](const boost::system::error_code& e) {
            if (!e) {
                logger_.warning("stream did not close within 3 s; exiting");
                context_.stop();
            }
        });
    }

    void on_stream_end(const std::exception_ptr& failure, xmpp::StreamOutcome outcome) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                logger_.error("component stream failed: " + error_text(e));
            }
            stream_exit_code_ = exit_failure;
        } else {
            switch (outcome) {
            case xmpp::StreamOutcome::stopped:
                stream_exit_code_ = exit_ok;
                break;
            case xmpp::StreamOutcome::not_authorized:
                stream_exit_code_ = exit_not_authorized;
                break;
            case xmpp::StreamOutcome::host_unknown:
                stream_exit_code_ = exit_host_unknown;
                break;
            }
        }
        if (runtime_ && stream_exit_code_ != exit_ok)
            runtime_->stop(); // the stream gave up for good: so does the rest
        finished();
    }

    void on_runtime_end(const std::exception_ptr& failure) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const SchemaNotReady& e) {
                logger_.error(e.what());
                runtime_exit_code_ = exit_schema;
            } catch (const std::exception& e) {
                logger_.error("store failed: " + error_text(e));
                runtime_exit_code_ = exit_failure;
            }
            stop_requested_ = true;
            stream_.stop();
        }
        finished();
    }

    /// One of the two ends; after the last, nothing keeps the io_context busy.
    void finished() {
        if (--running_ == 0) {
            signals_.cancel();
            stop_deadline_.cancel();
        }
    }

    const std::vector<std::string>& args_;
    const std::vector<std::string>& environment_;
    Logger logger_;
    asio::io_context context_;
    xmpp::ComponentStream stream_;
    xmpp::StanzaDispatcher stanzas_;
    std::unique_ptr<Runtime> runtime_;
    asio::signal_set signals_;
    asio::steady_timer stop_deadline_;
    bool stop_requested_ = false;
    int running_ = 0;
    int stream_exit_code_ = exit_failure;
    int runtime_exit_code_ = exit_ok;
};

} // namespace

int run_component(const Config& config, const std::vector<std::string>& args,
                  const std::vector<std::string>& environment, RunOptions options) {
    FerryProcess process(config, args, environment);
    return process.run(options.migrate);
}

} // namespace ferry::app
