#pragma once

#include "bridge/store/message_map.hpp"
#include "connectors/email/lmtp_server.hpp"
#include "connectors/email/mail_tokens.hpp"

#include <cstdint>
#include <string>

namespace ferry::core {
class Inlet;
class Logger;
class Metrics;
struct Arrival;
} // namespace ferry::core
namespace ferry::pg {
class Pool;
}
namespace ferry::store {
class MappingStore;
struct Connector;
} // namespace ferry::store

namespace ferry::connectors::email {

class AddressBooks;
struct ReadMail;

/// Mail → XMPP for one connector: recipients are the users the connector's address book gives (others are
/// refused at RCPT with 550 5.1.1); a mail is read once and becomes one message per recipient, committed
/// through the inlet together, with its Message-ID (or a hash of it) as the source id, so that a mail the MTA
/// delivers again is recognised. Every recipient gets 250 only after that commit, 451 when the store could
/// not take it. A mail answering one Ferry sent is a reply (XEP-0461) to that XMPP message for its author;
/// all mails of one thread share an XMPP thread; an automatic mail (RFC 3834) is marked and shown once a
/// day per sender and thread.
///
/// Mail to one of the connector's return paths (`bounces+<token>@<mail domain>`, a genuine token) is a
/// delivery report on a mail Ferry sent: it becomes a failure (or delay) report to the XMPP author of that
/// message, about its id, in the same commit.
class EmailIntake final : public MailIntake {
public:
    struct Options {
        /// How the MTA's word on the sender counts: Authentication-Results under `authserv_id` (empty: none
        /// are read); mail failing DMARC there is refused with 550 5.7.1, or shown marked.
        std::string authserv_id;
        bool mark_dmarc_failures = false;
        /// Replies shown without the quote of the answered mail and the signature (trim_reply).
        bool trim_replies = true;
    };

    EmailIntake(std::int64_t connector_id, std::string_view mail_domain, Options options, MailTokens tokens,
                const store::MappingStore& store, AddressBooks& books, core::Inlet& inlet,
                core::Metrics& metrics, pg::Pool& pool, core::Logger& logger);

    std::optional<SmtpReply> check_recipient(std::string_view address) override;
    boost::asio::awaitable<std::vector<SmtpReply>> deliver(const MailEnvelope& envelope,
                                                           std::string mail) override;
    /// Counted as ferry_connector_events_total{event="refused <enhanced status>"}.
    void refused(const SmtpReply& reply) override;

private:
    /// The XMPP message the mail answers: the newest of its references that is one of Ferry's Message-IDs,
    /// as message_map knows it. Errors of the store propagate.
    boost::asio::awaitable<std::optional<store::message_map::DeliveredFromXmpp>>
    answered_message(const ReadMail& read);
    /// The XMPP thread of the mail's thread: named after its first message (the root of References), so
    /// that every mail of the thread, from either side, is in one.
    static std::string thread_of(const ReadMail& read);
    /// True for an address of a return path's form at the mail domain: the gateway's, never a user's.
    bool reserved(const MailAddress& address) const;
    /// The message key of a return path of this connector; nullopt for any other address.
    std::optional<std::string> bounce_key(const MailAddress& address) const;
    /// The report on the message `key` for its author, added to `arrival`; false when there is nobody to
    /// tell (message_map forgot the message, its author is no longer mapped, the report says it arrived).
    /// `read` is the mail as read_mail read it. Errors of the store propagate.
    boost::asio::awaitable<bool> add_report(const store::Connector& connector, const std::string& key,
                                            const std::string& mail, const ReadMail& read,
                                            core::Arrival& arrival);

    std::int64_t connector_id_;
    std::string mail_domain_;
    Options options_;
    MailTokens tokens_;
    const store::MappingStore& store_;
    AddressBooks& books_;
    core::Inlet& inlet_;
    core::Metrics& metrics_;
    pg::Pool& pool_;
    core::Logger& logger_;
};

} // namespace ferry::connectors::email
