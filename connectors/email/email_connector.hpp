#pragma once

#include "bridge/core/connector.hpp"
#include "connectors/email/email_settings.hpp"
#include "connectors/email/mail_tokens.hpp"
#include "connectors/email/smtp_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>

namespace ferry::core {
class Logger;
}
namespace ferry::store {
struct Connector;
}

namespace ferry::connectors::email {

class AddressBooks;

/// XMPP → mail: each message becomes a mail from the sender's mail address (their mapping's) to the
/// address they wrote to, sent through the relay with a return path and a Message-ID that lead back to it.
/// The relay's 250 delivers it, a 4xx or a connection that fails retries it, a 5xx fails it with the relay's
/// words (the sender is told).
class EmailConnector final : public core::Connector {
public:
    EmailConnector(boost::asio::any_io_executor executor, const store::Connector& row, EmailSettings settings,
                   MailTokens tokens, AddressBooks& books, core::Logger& logger);

    boost::asio::awaitable<core::DeliveryResult> send(const core::Delivery& delivery) override;

private:
    std::int64_t connector_id_;
    EmailSettings settings_;
    MailTokens tokens_;
    AddressBooks& books_;
    core::Logger& logger_;
    SmtpClient client_;
};

} // namespace ferry::connectors::email
