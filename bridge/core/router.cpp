#include "bridge/core/router.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/core/message_references.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/core/running_families.hpp"
#include "bridge/core/signatures.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_error.hpp"
#include "bridge/xmpp/stringprep.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <cctype>
#include <nlohmann/json.hpp>

namespace ferry::core {

namespace asio = boost::asio;

namespace {

constexpr std::string_view receipts_ns = "urn:xmpp:receipts";

bool same_ignoring_ascii_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

/// XMPP servers case-fold local parts, so `C0LAN2Q65%chat@…` arrives as `c0lan2q65%chat@…`: the outbound
/// mapping whose remote address matches ignoring ASCII case, when exactly one does.
const store::Mapping* case_folded_match(const store::MappingSnapshot& snapshot, std::string_view xmpp,
                                        std::string_view connector, std::string_view remote) {
    const store::Mapping* found = nullptr;
    for (const store::Mapping* m : snapshot.mappings_for(xmpp)) {
        if (m->connector_name != connector || !store::carries_outbound(m->direction) ||
            !same_ignoring_ascii_case(m->remote_address, remote))
            continue;
        if (found != nullptr)
            return nullptr; // ambiguous: several mappings differ only by case
        found = m;
    }
    return found;
}

} // namespace

std::optional<std::string> exact_remote_jid(std::string_view remote_address, std::string_view connector,
                                            std::string_view domain) {
    const std::string_view whitespace = " \t\r\n";
    std::string_view trimmed = remote_address;
    trimmed.remove_prefix(std::min(trimmed.size(), trimmed.find_first_not_of(whitespace)));
    trimmed.remove_suffix(trimmed.size() - (trimmed.find_last_not_of(whitespace) + 1));
    if (trimmed.empty())
        return std::nullopt;
    std::string local = xmpp::escape_node(trimmed) + "%" + std::string(connector);
    const auto prepared = xmpp::nodeprep(local);
    if (!prepared || prepared->size() > xmpp::Jid::max_part_bytes || !xmpp::Jid::from_parts(local, domain))
        return std::nullopt;
    return local + "@" + std::string(domain);
}

std::string remote_jid(std::string_view remote_address, std::string_view connector, std::string_view domain) {
    if (auto exact = exact_remote_jid(remote_address, connector, domain))
        return std::move(*exact);
    return "~" + hmac_sha256_hex("ferry remote address", remote_address).substr(0, 16) + "%" +
           std::string(connector) + "@" + std::string(domain);
}

std::optional<std::pair<std::string, std::string>> split_remote_local(std::string_view local) {
    const auto percent = local.rfind('%');
    if (percent == std::string_view::npos || percent == 0 || percent + 1 == local.size())
        return std::nullopt;
    return std::pair{xmpp::unescape_node(local.substr(0, percent)), std::string(local.substr(percent + 1))};
}

Router::Router(asio::any_io_executor executor, const store::MappingStore& store, RunningFamilies& families,
               Outbox& outbox, xmpp::StanzaDispatcher& dispatcher, Logger& logger)
    : executor_(executor), store_(store), families_(families), outbox_(outbox), dispatcher_(dispatcher),
      logger_(logger) {}

OutboundRoute Router::outbound_route(const store::MappingSnapshot& snapshot, std::string_view from,
                                     std::string_view connector_name, std::string_view remote) {
    if (const store::Connector* connector = snapshot.connector(connector_name); connector != nullptr)
        if (RunningFamily* family = families_.of_kind(connector->kind); family != nullptr)
            if (auto route = family->route_outbound(snapshot, *connector, from, remote))
                return std::move(*route);
    const store::Mapping* mapping = snapshot.outbound(from, connector_name, remote);
    if (mapping == nullptr)
        mapping = case_folded_match(snapshot, from, connector_name, remote);
    if (mapping == nullptr)
        return {};
    return {mapping, mapping->remote_address, {}};
}

bool Router::route(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    if (stanza.name() != "message" || xmpp::is_error_stanza(stanza))
        return false;
    if (in.from.domain() == dispatcher_.domain())
        return true; // our own traffic reflected back: never bridge it again
    if (stanza.attribute("type") == "groupchat")
        return route_room(in);
    const auto remote = split_remote_local(in.to.local());
    if (!remote)
        return false;
    const auto snapshot = store_.snapshot();
    OutboundRoute route = outbound_route(*snapshot, in.from.bare_string(), remote->second, remote->first);
    const store::Mapping* mapping = route.mapping;
    if (mapping == nullptr)
        return false;
    Message message;
    if (!read_message(stanza, message))
        return true; // chat states, receipts, markers: nothing to carry
    message.source = "xmpp";
    message.from = in.from.full();
    message.to = in.to.bare_string();
    if (const auto* subject = stanza.child("subject"))
        message.subject = subject->text();
    if (const auto* thread = stanza.child("thread"))
        message.thread = thread->text();
    message.timestamp = utc_timestamp();

    OutboxEntry entry;
    entry.connector_id = mapping->connector_id;
    entry.conversation = route.conversation.empty() ? store::outbound_conversation(mapping->id)
                                                    : std::move(route.conversation);
    entry.destination = route.destination;
    entry.payload = to_json(message);
    std::vector<OutboxEntry> entries;
    entries.push_back(std::move(entry));

    const bool wants_receipt = stanza.child("request", receipts_ns) != nullptr && stanza.has_attribute("id");
    // What the replies need, copied: the stanza itself is gone when the commit completes.
    auto reply_to = std::make_shared<xmpp::XmlNode>(xmpp::XmlNode("message"));
    reply_to->set_attribute("from", std::string(stanza.attribute("to")));
    reply_to->set_attribute("to", std::string(stanza.attribute("from")));
    reply_to->set_attribute("id", std::string(stanza.attribute("id")));
    ++accepted_;
    asio::co_spawn(executor_, outbox_.enqueue(std::move(entries)),
                   [this, reply_to, wants_receipt](const std::exception_ptr& failure, EnqueueResult) {
                       if (failure) {
                           std::string reason = "unknown error";
                           try {
                               std::rethrow_exception(failure);
                           } catch (const std::exception& e) {
                               reason = e.what();
                           }
                           logger_.error("message from " + std::string(reply_to->attribute("to")) +
                                         " not accepted: " + reason);
                           xmpp::XmlNode original("message");
                           original.set_attribute("from", std::string(reply_to->attribute("to")));
                           original.set_attribute("to", std::string(reply_to->attribute("from")));
                           original.set_attribute("id", std::string(reply_to->attribute("id")));
                           dispatcher_.send(xmpp::make_error_reply(original, "internal-server-error",
                                                                   "Ferry could not store this message"));
                           return;
                       }
                       if (wants_receipt) {
                           xmpp::XmlNode receipt("message");
                           receipt.set_attribute("from", std::string(reply_to->attribute("from")));
                           receipt.set_attribute("to", std::string(reply_to->attribute("to")));
                           receipt.add_child("received", std::string(receipts_ns))
                               .set_attribute("id", std::string(reply_to->attribute("id")));
                           dispatcher_.send(receipt);
                       }
                   });
    return true;
}

bool Router::route_room(const xmpp::InboundStanza& in) {
    const xmpp::XmlNode& stanza = in.node;
    // History replayed on join (<delay/>) reaches here only when it is newer than what was bridged (Rooms).
    Message said;
    if (!read_message(stanza, said))
        return true;
    const std::string room = in.from.bare_string();
    const std::string connector = xmpp::unescape_node(in.to.local());
    const std::string room_id = room_stanza_id(stanza, room);
    const auto snapshot = store_.snapshot();
    std::vector<OutboxEntry> entries;
    std::int64_t connector_id = 0;
    for (const store::Mapping* mapping : snapshot->mappings_for(room)) {
        if (mapping->connector_name != connector || !store::carries_outbound(mapping->direction))
            continue;
        Message message = said;
        message.source = "xmpp";
        message.from = in.from.full();
        message.sender_name = in.from.resource();
        message.to = room;
        message.room_id = room_id;
        message.timestamp = utc_timestamp();
        connector_id = mapping->connector_id;
        entries.push_back({mapping->connector_id, store::outbound_conversation(mapping->id),
                           mapping->remote_address, to_json(message)});
    }
    if (entries.empty())
        return true; // a room we sit in for alerts only
    std::optional<SourceKey> source;
    if (!room_id.empty())
        source = SourceKey{connector_id, "muc:" + room + ":" + room_id, std::chrono::hours(24 * 7)};
    ++accepted_;
    asio::co_spawn(executor_, outbox_.enqueue(std::move(entries), std::move(source)),
                   [this, room](const std::exception_ptr& failure, EnqueueResult) {
                       if (!failure)
                           return;
                       try {
                           std::rethrow_exception(failure);
                       } catch (const std::exception& e) {
                           logger_.error("a message in " + room +
                                         " could not be stored for bridging: " + e.what());
                       }
                   });
    return true;
}

} // namespace ferry::core
