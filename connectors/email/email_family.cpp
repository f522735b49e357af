#include "connectors/email/email_family.hpp"

#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/email_connector.hpp"
#include "connectors/email/email_settings.hpp"
#include "connectors/email/mail_tokens.hpp"

#include <nlohmann/json.hpp>

namespace ferry::connectors::email {

namespace {

class RunningEmail final : public core::RunningFamily {
public:
    explicit RunningEmail(const core::FamilyContext& context)
        : executor_(context.executor), books_(context.store), logger_(context.logger),
          secret_(context.secret) {}

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
        return core::OutboundRoute{sender->mapping, correspondent->text()};
    }

private:
    boost::asio::any_io_executor executor_;
    AddressBooks books_;
    core::Logger& logger_;
    std::string secret_;
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
        "(being built: sending works, receiving comes next)",
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
