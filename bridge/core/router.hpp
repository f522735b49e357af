#pragma once

#include "bridge/core/family.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::store {
class MappingStore;
}

namespace ferry::core {

class Logger;
class Outbox;
class RunningFamilies;

/// The component-side JID of a remote address: XEP-0106-escaped remote address, '%', connector name, '@' our
/// domain (`ops\40example.org%mail@ferry.example.org`); the reverse of split_remote_local(). Whitespace
/// around the address is not part of it (XEP-0106 forbids an escaped space at either end). nullopt when no
/// JID that the servers accept can carry the address (control or prohibited characters, mixed writing
/// directions, over 1023 bytes): the server would drop a stanza from it without a word.
std::optional<std::string> exact_remote_jid(std::string_view remote_address, std::string_view connector,
                                            std::string_view domain);
/// exact_remote_jid(), or for an address that no JID can carry a stable stand-in,
/// `~<16 hex digits of a hash of the address>%<connector>@<domain>`: always a JID the servers accept.
std::string remote_jid(std::string_view remote_address, std::string_view connector, std::string_view domain);
/// Splits a local part at its last '%' into (unescaped remote address, connector name); nullopt without one.
std::optional<std::pair<std::string, std::string>> split_remote_local(std::string_view local);

/// XMPP → remote: a message from a user to a remote JID on our domain becomes a Message, is looked up in the
/// mapping snapshot (no database round trip; or routed by the connector's family, see
/// RunningFamily::route_outbound) and written to the outbox. A receipt (XEP-0184) is sent only
/// after the commit; a message the store cannot take gets an error back. What is said in a bridged MUC room
/// reaches the connector's seat there (`<connector>@<domain>/ferry`) and goes to the room's outbound mappings
/// of that connector, with the speaker's nick as the sender.
class Router {
public:
    Router(boost::asio::any_io_executor executor, const store::MappingStore& store, RunningFamilies& families,
           Outbox& outbox, xmpp::StanzaDispatcher& dispatcher, Logger& logger);
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    /// The StanzaDispatcher's address handler: true when the stanza was taken.
    bool route(const xmpp::InboundStanza& in);
    /// A room's message to a connector's seat (Rooms let it through, live or from the room's archive): into
    /// the outbox for the room's mappings; one the room's stanza-id shows was taken before is a duplicate.
    bool route_room(const xmpp::InboundStanza& in);
    std::uint64_t accepted() const { return accepted_; }

private:
    /// The family's route when it routes the connector's messages itself, else the mapping table's.
    OutboundRoute outbound_route(const store::MappingSnapshot& snapshot, std::string_view from,
                                 std::string_view connector_name, std::string_view remote);

    boost::asio::any_io_executor executor_;
    const store::MappingStore& store_;
    RunningFamilies& families_;
    Outbox& outbox_;
    xmpp::StanzaDispatcher& dispatcher_;
    Logger& logger_;
    std::uint64_t accepted_ = 0;
};

} // namespace ferry::core
