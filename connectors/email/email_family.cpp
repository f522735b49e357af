#include "connectors/email/email_family.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/text/utf8.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/email_connector.hpp"
#include "connectors/email/email_settings.hpp"
#include "connectors/email/lmtp_server.hpp"
#include "connectors/email/mail_gateway_xmpp.hpp"
#include "connectors/email/mail_intake.hpp"
#include "connectors/email/mail_tokens.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <nlohmann/json.hpp>

namespace ferry::connectors::email {

namespace {

/// A connector's mail listener and what it was made from.
struct Listening {
    std::string made_from; ///< the settings it reflects: another value means another listener
    std::unique_ptr<EmailIntake> intake;
    std::unique_ptr<MailListener> listener;
};

class RunningEmail final : public core::RunningFamily {
public:
    explicit RunningEmail(const core::FamilyContext& context)
        : executor_(context.executor), store_(context.store), pool_(context.pool), inlet_(context.inlet),
          metrics_(context.metrics), books_(context.store), gateway_(context.stanzas, context.store, books_),
          logger_(context.logger), secret_(context.secret), tick_(context.executor) {}

    bool handle_stanza(const xmpp::InboundStanza& stanza) override {
        return stanza.node.name() == "presence" && gateway_.handle_presence(stanza);
    }

    std::unique_ptr<core::Connector> make_connector(const store::Connector& row) override {
        return std::make_unique<EmailConnector>(executor_, row, read_settings(row.settings),
                                                MailTokens(secret_, row.name), books_, logger_);
    }

    std::optional<core::OutboundRoute> route_outbound(const store::MappingSnapshot& snapshot,
                                                      const store::Connector& connector,
                                                      std::string_view from,
                                                      std::string_view remote) override {
        const auto correspondent = parse_mail_address(remote);
        if (!correspondent || store::text_setting(connector.settings, "relay").empty())
            return core::OutboundRoute{}; // no relay: the connector only receives
        const auto sender = books_.of(snapshot, connector.id)->sender(from);
        if (!sender)
            return core::OutboundRoute{};
        return core::OutboundRoute{sender->mapping, correspondent->text(),
                                   store::outbound_conversation(sender->mapping->id) + " " +
                                       std::string(from) + " " + correspondent->key()};
    }

    /// The mail listeners of the connectors that have one, started and stopped as connectors come, change
    /// and go, until stop().
    boost::asio::awaitable<void> run_sources() override {
        while (!stopping_) {
            reconcile();
            tick_.expires_after(std::chrono::seconds(1));
            co_await tick_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
        for (auto& [id, listening] : listening_)
            listening->listener->stop();
        listening_.clear();
        while (serving_ > 0) {
            tick_.expires_after(std::chrono::milliseconds(20));
            co_await tick_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
    }

    void stop() override {
        stopping_ = true;
        tick_.cancel();
    }

private:
    void reconcile() {
        const auto snapshot = store_.snapshot();
        std::map<std::int64_t, std::pair<const store::Connector*, EmailSettings>> wanted;
        for (const store::Connector& connector : snapshot->connectors()) {
            if (connector.kind != "email" || !connector.enabled)
                continue;
            try {
                EmailSettings settings = read_settings(connector.settings);
                if (!settings.listen_address.empty())
                    wanted.emplace(connector.id, std::pair{&connector, std::move(settings)});
            } catch (const std::invalid_argument& e) {
                complain(connector.id, "mail connector " + connector.name + ": " + e.what());
            }
        }
        for (auto it = listening_.begin(); it != listening_.end();) {
            const auto found = wanted.find(it->first);
            if (found != wanted.end() && made_from(found->second.second) == it->second->made_from) {
                ++it;
                continue;
            }
            it->second->listener->stop();
            it = listening_.erase(it);
        }
        for (auto& [id, entry] : wanted) {
            if (listening_.contains(id))
                continue;
            const auto& [connector, settings] = entry;
            auto listening = std::make_shared<Listening>();
            listening->made_from = made_from(settings);
            listening->intake = std::make_unique<EmailIntake>(
                id, settings.mail_domain,
                EmailIntake::Options{settings.authserv_id, settings.mark_dmarc_failures,
                                     settings.trim_replies},
                MailTokens(secret_, connector->name), store_, books_, inlet_, metrics_, pool_, logger_);
            const boost::asio::ip::tcp::endpoint endpoint(
                boost::asio::ip::make_address(settings.listen_address), settings.listen_port);
            MailListenerOptions options;
            options.smtp = settings.listen_smtp;
            options.max_size = settings.max_size;
            listening->listener = std::make_unique<MailListener>(executor_, endpoint, settings.mail_domain,
                                                                 options, *listening->intake, logger_);
            const std::string where = settings.listen_address + ":" + std::to_string(settings.listen_port);
            try {
                listening->listener->open();
            } catch (const std::exception& e) {
                complain(id, "mail connector " + connector->name + ": cannot listen on " + where + ": " +
                                 e.what());
                continue;
            }
            complaints_.erase(id);
            logger_.info("mail connector " + connector->name + ": taking mail over " +
                         (settings.listen_smtp ? "SMTP" : "LMTP") + " on " + where);
            listening_.emplace(id, listening);
            ++serving_;
            boost::asio::co_spawn(executor_, serve(listening), [this](const std::exception_ptr& failure) {
                --serving_;
                if (failure)
                    logger_.error("a mail listener failed: " + failure_text(failure));
            });
        }
    }

    static boost::asio::awaitable<void> serve(std::shared_ptr<Listening> listening) {
        co_await listening->listener->run();
    }

    static std::string made_from(const EmailSettings& settings) {
        return settings.listen_address + " " + std::to_string(settings.listen_port) + " " +
               (settings.listen_smtp ? "smtp " : "lmtp ") + std::to_string(settings.max_size) + " " +
               settings.mail_domain + " " + settings.authserv_id +
               (settings.mark_dmarc_failures ? " mark" : "") + (settings.trim_replies ? " trim" : "");
    }

    static std::string failure_text(const std::exception_ptr& failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            return e.what();
        } catch (...) {
            return "unknown error";
        }
    }

    /// Logs a problem of a connector once, not every second.
    void complain(std::int64_t connector_id, const std::string& text) {
        if (complaints_[connector_id] != text)
            logger_.error(text);
        complaints_[connector_id] = text;
    }

    boost::asio::any_io_executor executor_;
    const store::MappingStore& store_;
    pg::Pool& pool_;
    core::Inlet& inlet_;
    core::Metrics& metrics_;
    AddressBooks books_;
    MailGatewayXmpp gateway_;
    core::Logger& logger_;
    std::string secret_;
    boost::asio::steady_timer tick_;
    bool stopping_ = false;
    std::map<std::int64_t, std::shared_ptr<Listening>> listening_;
    std::map<std::int64_t, std::string> complaints_;
    std::size_t serving_ = 0; ///< listeners whose run() has not returned
};

void check_mapping(std::string_view xmpp, std::string_view /*direction*/, std::string_view remote) {
    if (AddressBook::is_organisation(xmpp) || AddressBook::is_organisation(remote)) {
        if (!AddressBook::is_organisation(xmpp) || !AddressBook::is_organisation(remote) ||
            !is_mail_domain(remote.substr(2)))
            throw std::invalid_argument("an organisation mapping binds every user of an XMPP domain to the "
                                        "same name at a mail domain: "
                                        "--xmpp '*@example.org' --remote '*@chat.example.org'");
        return;
    }
    auto parsed = parse_mail_address_or_reason(remote);
    if (const auto* reason = std::get_if<std::string>(&parsed))
        throw std::invalid_argument("the remote address of a mail mapping is the user's mail address (" +
                                    *reason + "): --remote alice@chat.example.org");
}

core::KindSpec email_kind() {
    core::KindSpec kind{
        "email",
        "mail to and from any address; mappings give users their mail addresses, a whole domain at once "
        "(being built: mail crosses both ways in threads and bounces come back; attachments come next)",
        setting_specs(),
        true,
        true,
        {},
        {},
        {}};
    kind.check_settings = [](const nlohmann::json& settings) { read_settings(settings); };
    kind.check_mapping = check_mapping;
    return kind;
}

} // namespace

const std::vector<core::KindSpec>& EmailFamily::kinds() const {
    static const std::vector<core::KindSpec> kinds = {email_kind()};
    return kinds;
}

std::unique_ptr<core::RunningFamily> EmailFamily::start(const core::FamilyContext& context) const {
    return std::make_unique<RunningEmail>(context);
}

} // namespace ferry::connectors::email
