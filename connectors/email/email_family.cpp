#include "connectors/email/email_family.hpp"

#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/email_settings.hpp"

#include <nlohmann/json.hpp>
#include <unordered_map>

namespace ferry::connectors::email {

namespace {

class RunningEmail final : public core::RunningFamily {
public:
    explicit RunningEmail(const core::FamilyContext& context) : store_(context.store) {}

    std::optional<core::OutboundRoute> route_outbound(const store::MappingSnapshot& snapshot,
                                                      const store::Connector& connector,
                                                      std::string_view from,
                                                      std::string_view remote) override {
        const auto correspondent = parse_mail_address(remote);
        if (!correspondent)
            return core::OutboundRoute{};
        const auto sender = book(snapshot, connector)->sender(from);
        if (!sender)
            return core::OutboundRoute{};
        return core::OutboundRoute{sender->mapping, correspondent->text()};
    }

private:
    /// The connector's address book of this snapshot, made once per snapshot the store holds.
    std::shared_ptr<const AddressBook> book(const store::MappingSnapshot& snapshot,
                                            const store::Connector& connector) {
        if (&snapshot != books_of_.get()) {
            books_.clear();
            books_of_ = store_.snapshot();
            if (books_of_.get() != &snapshot) { // an older or newer snapshot than the store's: not kept
                books_of_.reset();
                return std::make_shared<const AddressBook>(snapshot, connector.id);
            }
        }
        auto& made = books_[connector.id];
        if (!made)
            made = std::make_shared<const AddressBook>(snapshot, connector.id);
        return made;
    }

    const store::MappingStore& store_;
    std::shared_ptr<const store::MappingSnapshot> books_of_; ///< held, so that its address is not reused
    std::unordered_map<std::int64_t, std::shared_ptr<const AddressBook>> books_;
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
        "(being built: sending and receiving come next)",
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
