#include "connectors/email/email_connector.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/text/utf8.hpp"
#include "bridge/xmpp/jid.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/mail_composer.hpp"

namespace ferry::connectors::email {

using core::DeliveryResult;

EmailConnector::EmailConnector(boost::asio::any_io_executor executor, const store::Connector& row,
                               EmailSettings settings, MailTokens tokens, AddressBooks& books,
                               core::Logger& logger)
    : connector_id_(row.id), settings_(settings), tokens_(std::move(tokens)), books_(books), logger_(logger),
      client_(executor, std::move(settings)) {}

boost::asio::awaitable<DeliveryResult> EmailConnector::send(const core::Delivery& delivery) {
    const core::Message& message = delivery.message;
    if (message.kind == "retraction")
        co_return DeliveryResult::failed("a mail cannot be taken back once it is sent");
    const auto to = parse_mail_address(delivery.destination);
    if (!to)
        co_return DeliveryResult::failed("\"" + text::printable(delivery.destination) +
                                         "\" is not a mail address");
    const auto jid = xmpp::Jid::parse(message.from);
    const auto sender = jid ? books_.current(connector_id_)->sender(jid->bare_string()) : std::nullopt;
    if (!sender)
        co_return DeliveryResult::failed(text::printable(message.from) +
                                         " has no mail address on this connector any more");

    OutgoingMail mail;
    mail.from = sender->address;
    mail.from_name = message.sender_name.empty() ? jid->local() : message.sender_name;
    mail.to = *to;
    mail.date = std::chrono::system_clock::now();
    mail.message_id = tokens_.message_id(delivery.idempotency_key, settings_.mail_domain);
    mail.subject = message.subject.empty() ? "Chat with " + mail.from_name : message.subject;
    if (message.kind == "edit")
        mail.subject = "Correction: " + mail.subject;
    mail.text = message.text;

    const Submission done = co_await client_.submit(
        tokens_.return_path(delivery.idempotency_key, settings_.mail_domain), to->text(), compose_mail(mail));
    switch (done.outcome) {
    case Submission::Outcome::accepted:
        co_return DeliveryResult::delivered(mail.message_id);
    case Submission::Outcome::transient:
        co_return DeliveryResult::retry(done.detail);
    case Submission::Outcome::refused:
        co_return DeliveryResult::failed(done.detail);
    }
    co_return DeliveryResult::retry(done.detail);
}

} // namespace ferry::connectors::email
