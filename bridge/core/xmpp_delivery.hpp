#pragma once

#include "bridge/core/connector.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::xmpp {
class DeliveryTicket;
class StanzaDispatcher;
class XmlNode;
} // namespace ferry::xmpp
namespace ferry::store {
class MappingStore;
struct Mapping;
} // namespace ferry::store
namespace ferry::pg {
class Pool;
}

namespace ferry::core {

class Rooms;

/// The seat a connector takes in a room: `<connector>@<domain>/ferry`.
std::string connector_seat(std::string_view connector, std::string_view domain);
/// The nick of a connector's seat in a mapping's room: the option `nick`, else the connector's name.
std::string seat_nick(const store::Mapping& mapping);
/// True when the mapping's XMPP address is a MUC room (option room=yes).
bool maps_room(const store::Mapping& mapping);

struct XmppDeliverySettings {
    /// Largest stanza the XMPP server takes from the component; a text that would make a stanza longer than
    /// half of it goes out in parts.
    std::size_t max_stanza_size = 512 * 1024UL;
    /// How long a batch waits for the server to confirm that it processed its stanzas.
    std::chrono::milliseconds confirm_timeout{10000};
};

/// Delivers outbox rows bound for XMPP (webhooks, alerts, remote chat → a JID) as message stanzas through
/// the component stream. The sender is `<connector>@<domain>`, or `<remote sender>%<connector>@<domain>`
/// when the message names one; the stanza id and XEP-0359 origin-id are the idempotency key, so a receiver
/// can tell a redelivery. While the stream is down rows wait in the outbox (retry), not in memory.
/// A mapping with the option `room=yes` names a MUC room: the message goes out as groupchat once Ferry has
/// joined the room as `<connector>@<domain>/ferry` with the nick of the option `nick` (default: the
/// connector's name); until then the row waits. Alert groups: a resolution corrects the group's earlier
/// message (XEP-0308) and adds its title as a short line.
/// A row counts as delivered only once the server has confirmed that it processed its stanzas (see
/// xmpp::ComponentStream): a row whose stanzas were lost with the stream is retried with the same ids, and
/// one whose own stanza made the server close the stream several times becomes a dead letter with the reason.
/// A text that would make a stanza longer than half what the server takes goes out in parts (`<id>-part2`,
/// …).
class XmppDelivery final : public core::Connector {
public:
    XmppDelivery(boost::asio::any_io_executor executor, xmpp::StanzaDispatcher& stanzas,
                 const store::MappingStore& store, pg::Pool& pool, Rooms& rooms, std::function<bool()> online,
                 XmppDeliverySettings settings = {});
    boost::asio::awaitable<core::DeliveryResult> send(const core::Delivery& delivery) override;
    /// Alerts to one mapping are limited to its option `alert_rate` (default 5) messages per `alert_window`
    /// seconds (default 60); rows beyond that wait, and go out together as one digest message.
    boost::asio::awaitable<std::vector<core::DeliveryResult>>
    send_batch(std::vector<const core::Delivery*> deliveries) override;

private:
    using Ticket = std::shared_ptr<xmpp::DeliveryTicket>;
    /// A row's outcome as written, before the server has confirmed its stanzas.
    struct Sent {
        const core::Delivery* delivery = nullptr;
        core::DeliveryResult result;
        Ticket ticket; ///< the row's stanzas (shared by the rows of one digest); null when none were sent
    };
    /// Attempts after which a row whose own stanza keeps making the server close the stream is a dead letter.
    static constexpr int max_stream_losses = 3;

    /// Writes the rows' stanzas (storm control for alerts); one result per row attempted.
    boost::asio::awaitable<std::vector<Sent>> write_batch(std::vector<const core::Delivery*> deliveries);
    /// Writes the rows one after the other, up to the first retry.
    boost::asio::awaitable<std::vector<Sent>> write_each(std::vector<const core::Delivery*> deliveries);
    /// Writes a burst of alert rows beyond the mapping's rate as one digest message.
    boost::asio::awaitable<std::vector<Sent>> write_digest(std::vector<const core::Delivery*> burst,
                                                           const store::Mapping& mapping, long limit,
                                                           std::chrono::seconds window);
    /// Writes one row's stanzas under `ticket`.
    boost::asio::awaitable<core::DeliveryResult> write(const core::Delivery& delivery, const Ticket& ticket);
    /// Turns written rows into delivered ones once the server confirms them, or into retries (and, after
    /// max_stream_losses, dead letters) when it does not.
    boost::asio::awaitable<void> confirm(std::vector<Sent>& sent);
    /// Sends one stanza under `ticket`, in parts when its body makes it larger than the server takes.
    void emit(xmpp::XmlNode stanza, const Ticket& ticket);

    struct Addressing {
        std::string from;
        std::string to;
        std::string type = "chat";
        std::string author; ///< the sender as XMPP users see it: `room/nick` in a room, else `from`
        std::string nick;   ///< the sender's name for XEP-0172 in a chat, when there is one to show
    };
    /// Where a row goes (a JID, or a room Ferry sits in), or why it cannot go now.
    std::variant<Addressing, core::DeliveryResult> address_for(const core::Delivery& delivery,
                                                               const store::Mapping* mapping);
    /// A retry while `address` is a room seat that has not joined yet (asking it to join).
    std::optional<core::DeliveryResult> unseated(const Addressing& address);
    /// Whether `author` (a JID, or `room/nick`) is one of the senders Ferry speaks for on behalf of
    /// `connector` (`alice%chat@…`, `alice (chat)`).
    bool speaks_for(const Addressing& address, const std::string& author, const std::string& connector) const;
    /// `address` as sent by `author`: that JID in a chat, the seat that has joined as that nick in a room.
    std::optional<Addressing> as_author(const Addressing& address, const std::string& author) const;
    static xmpp::XmlNode message_stanza(const Addressing& address, const std::string& id,
                                        const core::Message& m, const std::string& body,
                                        const std::optional<std::string>& replaces);
    /// A chat service's message, reply, edit or deletion, as XEP-0461/0308/0424 where the message it names
    /// was bridged (readable lines where not).
    boost::asio::awaitable<core::DeliveryResult> send_service_message(const core::Delivery& delivery,
                                                                      const store::Mapping& mapping,
                                                                      const Addressing& address,
                                                                      const Ticket& ticket);
    /// An alert notification: a new message, or corrections (XEP-0308) of the messages that announced the
    /// alerts now resolved, a short line telling what resolved, and a new message only for alerts not
    /// announced before.
    boost::asio::awaitable<core::DeliveryResult> send_alert(const core::Delivery& delivery,
                                                            const store::Mapping& mapping,
                                                            const Addressing& address, const Ticket& ticket);

    boost::asio::any_io_executor executor_;
    xmpp::StanzaDispatcher& stanzas_;
    const store::MappingStore& store_;
    pg::Pool& pool_;
    Rooms& rooms_;
    std::function<bool()> online_;
    std::size_t max_stanza_size_;
    std::chrono::milliseconds confirm_timeout_;
    std::map<std::int64_t, std::deque<std::chrono::steady_clock::time_point>>
        recent_alerts_; ///< by mapping id
};

} // namespace ferry::core
