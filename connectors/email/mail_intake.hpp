#pragma once

#include "connectors/email/lmtp_server.hpp"

#include <cstdint>
#include <string>

namespace ferry::core {
class Inlet;
class Logger;
} // namespace ferry::core
namespace ferry::store {
class MappingStore;
}

namespace ferry::connectors::email {

class AddressBooks;

/// Mail → XMPP for one connector: recipients are the users the connector's address book gives (others are
/// refused at RCPT with 550 5.1.1); a mail is read once and becomes one message per recipient, committed
/// through the inlet together, with its Message-ID (or a hash of it) as the source id, so that a mail the MTA
/// delivers again is recognised. Every recipient gets 250 only after that commit, 451 when the store could
/// not take it.
class EmailIntake final : public MailIntake {
public:
    EmailIntake(std::int64_t connector_id, const store::MappingStore& store, AddressBooks& books,
                core::Inlet& inlet, core::Logger& logger);

    std::optional<SmtpReply> check_recipient(std::string_view address) override;
    boost::asio::awaitable<std::vector<SmtpReply>> deliver(const MailEnvelope& envelope,
                                                           std::string mail) override;

private:
    std::int64_t connector_id_;
    const store::MappingStore& store_;
    AddressBooks& books_;
    core::Inlet& inlet_;
    core::Logger& logger_;
};

} // namespace ferry::connectors::email
