// XmppDelivery against a real PostgreSQL (mappings, message_map): which stanza a row for XMPP becomes. A
// chat service's message to a user is a chat from the sender's own address; a row for a room waits until
// Ferry's seat has joined and then is a groupchat; an edit of a message bridged before is an XEP-0308
// correction of the stanza it became (found through message_map, as the dispatcher recorded it). The server's
// confirmation of each stanza is played by the test. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR.
#include "bridge/base/logger.hpp"
#include "bridge/core/dispatcher.hpp"
#include "bridge/core/outbox.hpp"
#include "bridge/core/rooms.hpp"
#include "bridge/core/xmpp_delivery.hpp"
#include "bridge/pg/pool.hpp"
#include "bridge/store/conversations.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/xmpp/delivery_ticket.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "tests/support/store_test_support.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using pg_test::sleep_for;
using store_test::pool_options;
using store_test::prepare_store;
using store_test::service;
using store_test::services;
using store_test::while_running;
using Outcome = DeliveryResult::Outcome;

constexpr const char* domain = "ferry.localhost";
constexpr const char* room = "ops@muc.localhost";

class PgXmppDelivery : public pg_test::PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            connector_id = co_await prepare_store(
                c, quiet, "DELETE FROM outbox; DELETE FROM message_map; DELETE FROM mappings", "chat");
            const pg::Result ids = co_await c.execute(
                "INSERT INTO mappings (xmpp_address, connector_id, remote_address, direction, options) "
                "VALUES "
                "('bob@localhost', $1, 'C1', 'both', '{}'), ($2, $1, 'C2', 'both', '{\"room\": \"yes\"}') "
                "RETURNING id",
                pg::params(std::to_string(connector_id), std::string(room)));
            chat_mapping = std::stoll(std::string(*ids.get(0, 0)));
            room_mapping = std::stoll(std::string(*ids.get(1, 0)));
        });
        // What the component stream would do: write the stanza, and confirm it once the server has it.
        stanzas.on_send_delivery(
            [this](const xmpp::XmlNode& stanza, const std::shared_ptr<xmpp::DeliveryTicket>& ticket) {
                sent.push_back(stanza.clone());
                ticket->add_stanza();
                ticket->confirm_stanza();
            });
    }

    Message from_service(std::string text, std::string source_id) const {
        Message m;
        m.source = "chat";
        m.source_id = std::move(source_id);
        m.from = "U061F7AUR";
        m.sender_name = "Alice";
        m.channel = "C1";
        m.to = "bob@localhost";
        m.text = std::move(text);
        return m;
    }

    /// The stanzas written that are messages (room joins are presences).
    std::vector<const xmpp::XmlNode*> messages() const {
        std::vector<const xmpp::XmlNode*> out;
        for (const xmpp::XmlNode& stanza : sent)
            if (stanza.name() == "message")
                out.push_back(&stanza);
        return out;
    }

    Logger quiet{LogLevel::error};
    std::vector<xmpp::XmlNode> sent;
    std::vector<xmpp::XmlNode> presences;
    xmpp::StanzaDispatcher stanzas{
        domain, [this](const xmpp::XmlNode& stanza) { presences.push_back(stanza.clone()); }, quiet};
    Rooms rooms{stanzas, quiet};
    std::int64_t connector_id = 0;
    std::int64_t chat_mapping = 0;
    std::int64_t room_mapping = 0;
};

TEST_F(PgXmppDelivery, AServiceMessageToAUserIsAChatFromTheSendersOwnAddress) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), quiet);
        store::MappingStore store(context.get_executor(), pool, url, quiet);
        co_await store.reload();
        XmppDelivery delivery(context.get_executor(), stanzas, store, pool, rooms, [] { return true; });
        const Delivery row{"7d3c1f0e-5a1b-4c2d-8e9f-0a1b2c3d4e5f", "bob@localhost",
                           store::inbound_conversation(chat_mapping), from_service("hello bob", "m1"), 1};
        const DeliveryResult result = co_await delivery.send(row);
        EXPECT_EQ(result.outcome, Outcome::delivered) << result.error;
    });
    ASSERT_EQ(messages().size(), 1U);
    const xmpp::XmlNode& stanza = *messages().front();
    EXPECT_EQ(stanza.attribute("type"), "chat");
    EXPECT_EQ(stanza.attribute("to"), "bob@localhost");
    EXPECT_EQ(stanza.attribute("id"), "7d3c1f0e-5a1b-4c2d-8e9f-0a1b2c3d4e5f");
    EXPECT_TRUE(std::string(stanza.attribute("from")).ends_with(std::string("%chat@") + domain))
        << stanza.attribute("from");
    ASSERT_NE(stanza.child("body"), nullptr);
    EXPECT_EQ(stanza.child("body")->text(), "hello bob");
}

TEST_F(PgXmppDelivery, ARowForARoomWaitsForTheSeatThenIsAGroupchatFromIt) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(2), quiet);
        store::MappingStore store(context.get_executor(), pool, url, quiet);
        co_await store.reload();
        XmppDelivery delivery(context.get_executor(), stanzas, store, pool, rooms, [] { return true; });
        Message m;
        m.source = "chat";
        m.to = room;
        m.text = "deploy finished";
        const Delivery row{"1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", room,
                           store::inbound_conversation(room_mapping), m, 1};
        EXPECT_EQ((co_await delivery.send(row)).outcome, Outcome::retry)
            << "Ferry has not joined the room yet";
        EXPECT_TRUE(messages().empty());
        EXPECT_FALSE(presences.empty()) << "it asked to join";
        if (!presences.empty()) {
            EXPECT_EQ(presences.back().attribute("to"), std::string(room) + "/chat");
        }

        // The room lets the seat in (status 110: this presence is the seat's own).
        xmpp::XmlNode joined("presence");
        joined.set_attribute("from", std::string(room) + "/chat");
        joined.set_attribute("to", std::string("chat@") + domain + "/ferry");
        joined.add_child("x", "http://jabber.org/protocol/muc#user")
            .add_child("status")
            .set_attribute("code", "110");
        const auto from = xmpp::Jid::parse(joined.attribute("from"));
        const auto to = xmpp::Jid::parse(joined.attribute("to"));
        EXPECT_TRUE(rooms.handle(xmpp::InboundStanza{joined, *from, *to}));

        const Delivery again{row.idempotency_key, row.destination, row.conversation, row.message, 2};
        const DeliveryResult result = co_await delivery.send(again);
        EXPECT_EQ(result.outcome, Outcome::delivered) << result.error;
    });
    ASSERT_EQ(messages().size(), 1U);
    const xmpp::XmlNode& stanza = *messages().front();
    EXPECT_EQ(stanza.attribute("type"), "groupchat");
    EXPECT_EQ(stanza.attribute("to"), room);
    EXPECT_EQ(stanza.attribute("from"), std::string("chat@") + domain + "/ferry");
    EXPECT_EQ(stanza.child("body")->text(), "deploy finished");
}

TEST_F(PgXmppDelivery, AnEditOfABridgedMessageCorrectsTheStanzaItBecame) {
    run([&]() -> asio::awaitable<void> {
        pg::Pool pool(context.get_executor(), url, pool_options(3), quiet);
        store::MappingStore store(context.get_executor(), pool, url, quiet);
        co_await store.reload();
        XmppDelivery xmpp_delivery(context.get_executor(), stanzas, store, pool, rooms, [] { return true; });
        Outbox outbox(context.get_executor(), pool, quiet);
        Dispatcher dispatcher(
            context.get_executor(), pool, [&](const ClaimedRow&) -> Connector* { return &xmpp_delivery; },
            quiet, DispatcherOptions{});
        outbox.on_committed([&] { dispatcher.wake(); });
        co_await while_running(
            services(service(outbox), service(dispatcher)), [&]() -> asio::awaitable<void> {
                const std::string conversation = store::inbound_conversation(chat_mapping);
                std::vector<OutboxEntry> original{{connector_id, conversation, "bob@localhost",
                                                   to_json(from_service("see you at 10", "m1"))}};
                co_await outbox.enqueue(std::move(original), std::nullopt);
                for (int i = 0; i < 200 && messages().size() < 1; ++i)
                    co_await sleep_for(25ms);
                Message edit = from_service("see you at 11", "m1-edit");
                edit.kind = "edit";
                edit.refers_to = "m1";
                std::vector<OutboxEntry> correction{
                    {connector_id, conversation, "bob@localhost", to_json(edit)}};
                co_await outbox.enqueue(std::move(correction), std::nullopt);
                for (int i = 0; i < 200 && messages().size() < 2; ++i)
                    co_await sleep_for(25ms);
            });
    });
    const auto written = messages();
    ASSERT_EQ(written.size(), 2U);
    const xmpp::XmlNode* replace = written[1]->child("replace", "urn:xmpp:message-correct:0");
    ASSERT_NE(replace, nullptr) << written[1]->to_string("jabber:client");
    EXPECT_EQ(replace->attribute("id"), written[0]->attribute("id"));
    EXPECT_EQ(written[1]->attribute("from"), written[0]->attribute("from"))
        << "a correction comes from the author";
    EXPECT_EQ(written[1]->child("body")->text(), "see you at 11");
}

} // namespace
} // namespace ferry::core
