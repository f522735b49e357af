#pragma once

#include "connectors/email/mail_address.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ferry::store {
class MappingSnapshot;
class MappingStore;
struct Connector;
struct Mapping;
} // namespace ferry::store

namespace ferry::connectors::email {

/// Who is who on both sides, for one mail connector, from its mappings:
/// - an organisation mapping binds every user of an XMPP domain to the same local part at a mail domain
///   (`*@example.org` ↔ `*@chat.example.org`);
/// - a user's own mapping overrides it (`carol@example.org` ↔ `c.jones@chat.example.org`), and while it
///   is disabled that user is not bridged at all.
/// A mapping's direction says which way it carries (out: the user may send mail, in: mail reaches them).
/// Addresses compare case-blind; the result is what the snapshot held when the book was made.
class AddressBook {
public:
    AddressBook(const store::MappingSnapshot& snapshot, std::int64_t connector_id);

    /// The mail address the user `bare_jid` sends from, and the mapping that allows it; nullopt when
    /// they may not send.
    struct Sender {
        MailAddress address;
        const store::Mapping* mapping = nullptr;
    };
    std::optional<Sender> sender(std::string_view bare_jid) const;
    /// The XMPP user mail to `address` is for, and the mapping that allows it; nullopt when none.
    struct Recipient {
        std::string bare_jid;
        const store::Mapping* mapping = nullptr;
    };
    std::optional<Recipient> recipient(const MailAddress& address) const;

    /// True for a mapping that binds a whole domain: `*@domain` on both sides.
    static bool is_organisation(std::string_view address) { return address.starts_with("*@"); }

private:
    bool usable(const store::Mapping& mapping) const;

    bool connector_enabled_ = false;
    std::unordered_map<std::string, const store::Mapping*> own_by_jid_;     ///< user rows, by bare JID
    std::unordered_map<std::string, const store::Mapping*> own_by_address_; ///< user rows, by address key
    std::unordered_map<std::string, const store::Mapping*> organisation_by_xmpp_domain_;
    std::unordered_map<std::string, const store::Mapping*> organisation_by_mail_domain_;
};

/// The address books of the mail connectors, made once per snapshot of the mapping store.
class AddressBooks {
public:
    explicit AddressBooks(const store::MappingStore& store) : store_(store) {}

    /// The book of `connector_id` in `snapshot` (kept when it is the store's current one).
    std::shared_ptr<const AddressBook> of(const store::MappingSnapshot& snapshot, std::int64_t connector_id);
    /// The book of `connector_id` in the store's current snapshot.
    std::shared_ptr<const AddressBook> current(std::int64_t connector_id);

private:
    const store::MappingStore& store_;
    std::shared_ptr<const store::MappingSnapshot> books_of_; ///< held, so that its address is not reused
    std::unordered_map<std::int64_t, std::shared_ptr<const AddressBook>> books_;
};

} // namespace ferry::connectors::email
