#include "connectors/email/mail_intake.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/metrics.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/pg/within.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/store/message_map.hpp"
#include "bridge/text/log_text.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/authentication_results.hpp"
#include "connectors/email/delivery_failure.hpp"
#include "connectors/email/delivery_report.hpp"
#include "connectors/email/mail_reader.hpp"
#include "connectors/email/reply_trimmer.hpp"

#include <nlohmann/json.hpp>

namespace ferry::connectors::email {

namespace {

/// How long a Message-ID counts as seen: far longer than any MTA retries (Postfix gives up after 5 days).
constexpr std::chrono::hours dedup_window(24 * 30);
/// How long a look-up in message_map may keep the MTA waiting before it is told to try again (451).
constexpr std::chrono::seconds lookup_limit(10);

SmtpReply reply_to(std::string_view recipient, int code, std::string enhanced, std::string_view text) {
    return SmtpReply{code, std::move(enhanced), {"<" + std::string(recipient) + "> " + std::string(text)}};
}

} // namespace

EmailIntake::EmailIntake(std::int64_t connector_id, std::string_view mail_domain, Options options,
                         MailTokens tokens, const store::MappingStore& store, AddressBooks& books,
                         core::Inlet& inlet, core::Metrics& metrics, pg::Pool& pool, core::Logger& logger)
    : connector_id_(connector_id), mail_domain_(text::ascii_lowercase(mail_domain)),
      options_(std::move(options)), tokens_(std::move(tokens)), store_(store), books_(books), inlet_(inlet),
      metrics_(metrics), pool_(pool), logger_(logger) {}

bool EmailIntake::reserved(const MailAddress& address) const {
    return address.domain == mail_domain_ && MailTokens::has_return_path_form(address);
}

std::optional<std::string> EmailIntake::bounce_key(const MailAddress& address) const {
    if (!reserved(address))
        return std::nullopt;
    return tokens_.key_of_return_path(address);
}

boost::asio::awaitable<std::optional<store::message_map::DeliveredFromXmpp>>
EmailIntake::answered_message(const ReadMail& read) {
    for (std::size_t i = read.references.size(); i-- > 0;) // the newest first
        if (const auto key = tokens_.key_of_message_id(read.references[i]))
            co_return co_await store::message_map::delivered_from_xmpp(pool_, connector_id_, *key);
    co_return std::nullopt;
}

std::string EmailIntake::thread_of(const ReadMail& read) {
    const std::string& root = read.references.empty() ? read.message_id : read.references.front();
    if (root.empty())
        return {};
    return "mail-" + core::hmac_sha256_hex("ferry mail thread", text::ascii_lowercase(root)).substr(0, 16);
}

void EmailIntake::refused(const SmtpReply& reply) {
    if (const store::Connector* connector = store_.snapshot()->connector(connector_id_))
        metrics_.connector_event(connector->name, "refused " + reply.enhanced);
}

std::optional<SmtpReply> EmailIntake::check_recipient(std::string_view address) {
    auto parsed = parse_mail_address_or_reason(address);
    if (const auto* reason = std::get_if<std::string>(&parsed))
        return SmtpReply{501, "5.1.3", {"<" + text::printable(address) + ">: " + *reason}};
    const auto& mail_address = std::get<MailAddress>(parsed);
    if (reserved(mail_address))
        return bounce_key(mail_address) ? std::nullopt
                                        : std::optional(reply_to(text::printable(address), 550, "5.1.1",
                                                                 "not a return path of this gateway"));
    if (!books_.current(connector_id_)->recipient(mail_address))
        return reply_to(text::printable(address), 550, "5.1.1", "no such user here");
    return std::nullopt;
}

boost::asio::awaitable<bool> EmailIntake::add_report(const store::Connector& connector,
                                                     const std::string& key, const std::string& mail,
                                                     const ReadMail& read, core::Arrival& arrival) {
    const auto delivered = co_await store::message_map::delivered_from_xmpp(pool_, connector_id_, key);
    if (!delivered) {
        logger_.info("mail connector " + connector.name + ": a delivery report on message " + key +
                     ", which message_map no longer knows: nobody to tell");
        co_return false;
    }
    const auto sender = books_.current(connector_id_)->sender(delivered->author);
    if (!sender) {
        logger_.info("mail connector " + connector.name + ": a delivery report for " + delivered->author +
                     ", who is no longer mapped: nobody to tell");
        co_return false;
    }
    const auto report = read_delivery_report(mail);
    auto message = delivery_failure(SentMail{delivered->xmpp_id, delivered->author, delivered->posted_to},
                                    report ? &*report : nullptr, read.text);
    if (!message)
        co_return false;
    message->source = connector.name;
    message->timestamp = core::utc_timestamp();
    metrics_.connector_event(connector.name, "delivery report");
    arrival.entries.push_back({connector_id_,
                               store::inbound_conversation(sender->mapping->id, delivered->author),
                               delivered->author, to_json(*message)});
    co_return true;
}

boost::asio::awaitable<std::vector<SmtpReply>> EmailIntake::deliver(const MailEnvelope& envelope,
                                                                    std::string mail) {
    const auto snapshot = store_.snapshot();
    const store::Connector* connector = snapshot->connector(connector_id_);
    const auto book = books_.of(*snapshot, connector_id_);
    const ReadMail read = read_mail(mail);
    const std::string author = !read.from.empty()         ? read.from
                               : !envelope.sender.empty() ? envelope.sender
                                                          : std::string("mailer-daemon");
    bool unverified = false;
    if (!options_.authserv_id.empty() &&
        authentication_result(read.authentication_results, options_.authserv_id, "dmarc") == "fail") {
        if (!options_.mark_dmarc_failures) {
            logger_.info("mail " + text::quoted(text::shortened(read.message_id, 120)) + " from " +
                         text::quoted(text::shortened(author, 120)) + " refused: DMARC failed at " +
                         options_.authserv_id);
            co_return std::vector<SmtpReply>(
                envelope.recipients.size(),
                SmtpReply{550, "5.7.1", {"the sender's domain does not vouch for this mail (DMARC failed)"}});
        }
        unverified = true;
    }
    std::vector<SmtpReply> replies;
    // The XMPP message this mail answers, when it names one of Ferry's mails (the newest it names).
    std::optional<std::optional<store::message_map::DeliveredFromXmpp>> looked_up;
    try {
        looked_up = co_await pg::within(lookup_limit, answered_message(read));
    } catch (const std::exception& e) {
        logger_.warning(std::string("mail not taken, the MTA will try again: ") + e.what());
    }
    if (!looked_up)
        co_return std::vector<SmtpReply>(
            envelope.recipients.size(),
            SmtpReply{451, "4.3.0", {"the store is unavailable: try again later"}});
    const auto& answers = *looked_up;
    const std::string thread = thread_of(read);
    std::string text = read.text;
    if (options_.trim_replies) {
        if (TrimmedReply trimmed = trim_reply(read.text); trimmed.lines_cut > 0)
            text = std::move(trimmed.text) + "\n[" + std::to_string(trimmed.lines_cut) +
                   " lines of quote and signature not shown]";
    }
    core::Arrival arrival;
    for (const std::string& address : envelope.recipients) {
        const auto parsed = parse_mail_address(address);
        if (const auto key = parsed ? bounce_key(*parsed) : std::nullopt; key && connector != nullptr) {
            std::optional<bool> told;
            try {
                told = co_await pg::within(lookup_limit, add_report(*connector, *key, mail, read, arrival));
            } catch (const std::exception& e) {
                logger_.warning(std::string("delivery report not taken, the MTA will try again: ") +
                                e.what());
            }
            if (!told)
                replies.push_back(SmtpReply{451, "4.3.0", {"the store is unavailable: try again later"}});
            else
                replies.push_back(
                    reply_to(address, 250, "2.0.0",
                             *told ? "delivery report taken" : "delivery report taken, nobody to tell"));
            continue;
        }
        const auto recipient = parsed && !reserved(*parsed) ? book->recipient(*parsed) : std::nullopt;
        if (!recipient || connector == nullptr) { // unmapped since RCPT
            replies.push_back(reply_to(address, 550, "5.1.1", "no such user here"));
            continue;
        }
        core::Message message;
        message.source = connector->name;
        message.source_id = read.message_id;
        message.from = author;
        message.sender_name = read.from_name;
        message.to = recipient->bare_jid;
        message.thread = thread;
        if (answers && answers->author == recipient->bare_jid) {
            message.kind = "reply";
            message.refers_to = answers->xmpp_id;
        }
        if (read.references.empty()) // a thread's first mail: its subject opens the chat's thread
            message.subject = read.subject;
        message.text = read.automatic ? "[automatic reply] " + text : text;
        if (unverified)
            message.text = "[unverified sender: DMARC failed] " + message.text;
        message.timestamp = core::utc_timestamp();
        arrival.entries.push_back({connector_id_,
                                   store::inbound_conversation(recipient->mapping->id, recipient->bare_jid),
                                   recipient->bare_jid, to_json(message)});
        replies.push_back(reply_to(address, 250, "2.0.0", "delivered to " + recipient->bare_jid));
    }
    if (arrival.entries.empty())
        co_return replies;
    const std::string id = read.message_id.empty()
                               ? "sha256 " + core::hmac_sha256_hex("ferry mail without id", mail)
                               : read.message_id;
    // An auto-reply (out of office, a list's notice) is shown once a day per sender and thread (or per
    // sender, when it answers nothing), however often it comes.
    const std::string answered_thread = read.references.empty() ? std::string() : thread;
    arrival.source =
        read.automatic ? core::SourceKey{connector_id_,
                                         "automatic " + text::ascii_lowercase(author) + " " + answered_thread,
                                         std::chrono::hours(24)}
                       : core::SourceKey{connector_id_, "mail " + id, dedup_window};
    arrival.summary = "mail " + text::quoted(text::shortened(id, 120)) + " from " +
                      text::quoted(text::shortened(author, 120));
    for (const std::string& problem : read.problems)
        logger_.info("mail " + text::quoted(text::shortened(id, 120)) + ": " + problem);

    std::optional<SmtpReply> failure;
    try {
        const core::InletOutcome outcome = co_await inlet_.take(*connector, "lmtp", std::move(arrival));
        if (outcome == core::InletOutcome::store_slow)
            failure = SmtpReply{451, "4.3.0", {"the store is slow: try again later"}};
    } catch (const std::exception& e) {
        logger_.warning(std::string("mail not taken, the MTA will try again: ") + e.what());
        failure = SmtpReply{451, "4.3.0", {"the store is unavailable: try again later"}};
    }
    if (failure)
        for (SmtpReply& reply : replies)
            if (reply.positive())
                reply = *failure;
    co_return replies;
}

} // namespace ferry::connectors::email
