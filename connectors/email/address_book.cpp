#include "connectors/email/address_book.hpp"

#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/xmpp/jid.hpp"

#include <unordered_set>

namespace ferry::connectors::email {

namespace {

std::string_view domain_of(std::string_view address) {
    const std::size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

std::string_view local_of(std::string_view address) {
    const std::size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string_view() : address.substr(0, at);
}

} // namespace

AddressBook::AddressBook(const store::MappingSnapshot& snapshot, std::int64_t connector_id) {
    const store::Connector* connector = snapshot.connector(connector_id);
    connector_enabled_ = connector != nullptr && connector->enabled;
    std::unordered_set<std::int64_t> rejected;
    for (const store::RejectedMapping& r : snapshot.rejected())
        rejected.insert(r.id);
    for (const store::Mapping& mapping : snapshot.mappings()) {
        if (mapping.connector_id != connector_id || rejected.contains(mapping.id))
            continue;
        if (is_organisation(mapping.xmpp_address) && is_organisation(mapping.remote_address)) {
            organisation_by_xmpp_domain_.try_emplace(std::string(domain_of(mapping.xmpp_address)), &mapping);
            if (const auto address = parse_mail_address("x" + mapping.remote_address.substr(1)))
                organisation_by_mail_domain_.try_emplace(address->domain, &mapping);
            continue;
        }
        const auto address = parse_mail_address(mapping.remote_address);
        if (!address || is_organisation(mapping.xmpp_address))
            continue; // `ferry mapping add` refuses these; an older or hand-made row is ignored
        own_by_jid_.try_emplace(mapping.xmpp_address, &mapping);
        own_by_address_.try_emplace(address->key(), &mapping);
    }
}

bool AddressBook::usable(const store::Mapping& mapping) const {
    return connector_enabled_ && mapping.enabled;
}

std::optional<AddressBook::Sender> AddressBook::sender(std::string_view bare_jid) const {
    const std::string jid(bare_jid);
    if (const auto own = own_by_jid_.find(jid); own != own_by_jid_.end()) {
        const store::Mapping& mapping = *own->second;
        if (!usable(mapping) || !store::carries_outbound(mapping.direction))
            return std::nullopt;
        if (auto address = parse_mail_address(mapping.remote_address))
            return Sender{std::move(*address), &mapping};
        return std::nullopt;
    }
    const auto organisation = organisation_by_xmpp_domain_.find(std::string(domain_of(jid)));
    if (organisation == organisation_by_xmpp_domain_.end() || local_of(jid).empty())
        return std::nullopt;
    const store::Mapping& mapping = *organisation->second;
    if (!usable(mapping) || !store::carries_outbound(mapping.direction))
        return std::nullopt;
    auto address =
        parse_mail_address(std::string(local_of(jid)) + "@" + std::string(domain_of(mapping.remote_address)));
    if (!address)
        return std::nullopt; // the user's local part is no mail local part
    if (own_by_address_.contains(address->key()))
        return std::nullopt; // that address is another user's own
    return Sender{std::move(*address), &mapping};
}

std::optional<AddressBook::Recipient> AddressBook::recipient(const MailAddress& address) const {
    if (const auto own = own_by_address_.find(address.key()); own != own_by_address_.end()) {
        const store::Mapping& mapping = *own->second;
        if (!usable(mapping) || !store::carries_inbound(mapping.direction))
            return std::nullopt;
        return Recipient{mapping.xmpp_address, &mapping};
    }
    const auto organisation = organisation_by_mail_domain_.find(address.domain);
    if (organisation == organisation_by_mail_domain_.end())
        return std::nullopt;
    const store::Mapping& mapping = *organisation->second;
    if (!usable(mapping) || !store::carries_inbound(mapping.direction))
        return std::nullopt;
    const auto jid = xmpp::Jid::from_parts(address.local, domain_of(mapping.xmpp_address));
    if (!jid)
        return std::nullopt;
    std::string bare = jid->bare_string();
    if (own_by_jid_.contains(bare))
        return std::nullopt; // the user has an address of their own (or is not bridged)
    return Recipient{std::move(bare), &mapping};
}

std::shared_ptr<const AddressBook> AddressBooks::of(const store::MappingSnapshot& snapshot,
                                                    std::int64_t connector_id) {
    if (&snapshot != books_of_.get()) {
        books_.clear();
        books_of_ = store_.snapshot();
        if (books_of_.get() != &snapshot) { // an older or newer snapshot than the store's: not kept
            books_of_.reset();
            return std::make_shared<const AddressBook>(snapshot, connector_id);
        }
    }
    auto& made = books_[connector_id];
    if (!made)
        made = std::make_shared<const AddressBook>(snapshot, connector_id);
    return made;
}

std::shared_ptr<const AddressBook> AddressBooks::current(std::int64_t connector_id) {
    const auto snapshot = store_.snapshot();
    return of(*snapshot, connector_id);
}

} // namespace ferry::connectors::email
