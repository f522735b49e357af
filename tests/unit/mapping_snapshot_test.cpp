// MappingSnapshot: what is routable and how lookups find it. Pure: no database.
#include "bridge/store/mapping_snapshot.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace ferry::store {
namespace {

Connector connector(std::int64_t id, std::string name, bool enabled = true) {
    Connector c;
    c.id = id;
    c.name = std::move(name);
    c.kind = "test";
    c.settings = {{"id", id}};
    c.enabled = enabled;
    return c;
}

Mapping mapping(std::int64_t id, std::string xmpp, std::int64_t connector_id, std::string remote,
                Direction direction = Direction::both, bool enabled = true) {
    Mapping m;
    m.id = id;
    m.xmpp_address = std::move(xmpp);
    m.connector_id = connector_id;
    m.remote_address = std::move(remote);
    m.direction = direction;
    m.enabled = enabled;
    return m;
}

std::vector<std::int64_t> ids(const std::vector<const Mapping*>& found) {
    std::vector<std::int64_t> result;
    for (const Mapping* m : found)
        result.push_back(m->id);
    return result;
}

using Ids = std::vector<std::int64_t>;

TEST(Direction, NamesRoundTripAndUnknownNamesAreRejected) {
    for (const Direction d : {Direction::in, Direction::out, Direction::both})
        EXPECT_EQ(parse_direction(direction_name(d)), d);
    EXPECT_EQ(parse_direction("OUT"), std::nullopt);
    EXPECT_EQ(parse_direction(""), std::nullopt);
    EXPECT_TRUE(carries_outbound(Direction::out));
    EXPECT_FALSE(carries_outbound(Direction::in));
    EXPECT_TRUE(carries_inbound(Direction::both));
    EXPECT_FALSE(carries_inbound(Direction::out));
}

TEST(MappingSnapshot, EmptySnapshotFindsNothing) {
    const MappingSnapshot snapshot;
    EXPECT_EQ(snapshot.size(), 0u);
    EXPECT_EQ(snapshot.outbound("alice@example.org", "mail", "a@b.c"), nullptr);
    EXPECT_TRUE(snapshot.inbound("mail", "a@b.c").empty());
    EXPECT_EQ(snapshot.connector("mail"), nullptr);
    EXPECT_TRUE(snapshot.mappings_for("alice@example.org").empty());
}

TEST(MappingSnapshot, OutboundFindsOnlyOutAndBothDirections) {
    const MappingSnapshot snapshot({connector(1, "mail")},
                                   {mapping(10, "alice@example.org", 1, "alice@mail.example", Direction::out),
                                    mapping(11, "bob@example.org", 1, "bob@mail.example", Direction::in),
                                    mapping(12, "carol@example.org", 1, "carol@mail.example")});
    const Mapping* alice = snapshot.outbound("alice@example.org", "mail", "alice@mail.example");
    ASSERT_NE(alice, nullptr);
    EXPECT_EQ(alice->id, 10);
    EXPECT_EQ(alice->connector_name, "mail");
    EXPECT_EQ(snapshot.outbound("bob@example.org", "mail", "bob@mail.example"), nullptr);
    ASSERT_NE(snapshot.outbound("carol@example.org", "mail", "carol@mail.example"), nullptr);
    EXPECT_EQ(snapshot.outbound("carol@example.org", "mail", "carol@mail.example")->id, 12);
    EXPECT_EQ(snapshot.outbound("alice@example.org", "mail", "bob@mail.example"), nullptr);
    EXPECT_EQ(snapshot.outbound("alice@example.org", "slack", "alice@mail.example"), nullptr);
    EXPECT_EQ(snapshot.size(), 3u);
}

TEST(MappingSnapshot, InboundFindsEveryXmppAddressOfARemoteAddressInIdOrder) {
    const MappingSnapshot snapshot({connector(1, "alerts"), connector(2, "slack")},
                                   {mapping(30, "ops@rooms.example.org", 1, "prod"),
                                    mapping(20, "alice@example.org", 1, "prod", Direction::in),
                                    mapping(25, "bob@example.org", 1, "prod", Direction::out),
                                    mapping(40, "carol@example.org", 2, "prod", Direction::in),
                                    mapping(50, "dave@example.org", 1, "staging", Direction::in)});
    EXPECT_EQ(ids(snapshot.inbound("alerts", "prod")), (Ids{20, 30}));
    EXPECT_EQ(ids(snapshot.inbound("slack", "prod")), (Ids{40}));
    EXPECT_EQ(ids(snapshot.inbound("alerts", "staging")), (Ids{50}));
    EXPECT_TRUE(snapshot.inbound("alerts", "dev").empty());
    EXPECT_TRUE(snapshot.inbound("slack", "staging").empty());
}

TEST(MappingSnapshot, DisabledMappingsAndMappingsOfDisabledConnectorsAreNotRoutable) {
    const MappingSnapshot snapshot(
        {connector(1, "mail"), connector(2, "slack", false)},
        {mapping(10, "alice@example.org", 1, "a@mail.example", Direction::both, false),
         mapping(11, "alice@example.org", 2, "#general"),
         mapping(12, "alice@example.org", 1, "b@mail.example")});
    EXPECT_EQ(snapshot.outbound("alice@example.org", "mail", "a@mail.example"), nullptr);
    EXPECT_TRUE(snapshot.inbound("mail", "a@mail.example").empty());
    EXPECT_EQ(snapshot.outbound("alice@example.org", "slack", "#general"), nullptr);
    EXPECT_TRUE(snapshot.inbound("slack", "#general").empty());
    EXPECT_EQ(ids(snapshot.mappings_for("alice@example.org")), (Ids{12}));
    EXPECT_EQ(snapshot.size(), 1u);
    EXPECT_EQ(snapshot.mappings().size(), 3u);
    EXPECT_TRUE(snapshot.rejected().empty()) << "disabled is not rejected";
    ASSERT_NE(snapshot.connector("slack"), nullptr);
    EXPECT_FALSE(snapshot.connector("slack")->enabled);
}

TEST(MappingSnapshot, ConnectorLookupByName) {
    const MappingSnapshot snapshot({connector(2, "slack"), connector(1, "mail")}, {});
    ASSERT_NE(snapshot.connector("mail"), nullptr);
    EXPECT_EQ(snapshot.connector("mail")->id, 1);
    EXPECT_EQ(snapshot.connector("mail")->settings.at("id"), 1);
    EXPECT_EQ(snapshot.connector("slack")->id, 2);
    EXPECT_EQ(snapshot.connector("Mail"), nullptr);
    EXPECT_EQ(snapshot.connector(""), nullptr);
    ASSERT_EQ(snapshot.connectors().size(), 2u);
    EXPECT_EQ(snapshot.connectors().front().name, "mail") << "ordered by id";
}

TEST(MappingSnapshot, MappingsForAnXmppAddressSpanConnectorsAndDirections) {
    const MappingSnapshot snapshot({connector(1, "mail"), connector(2, "slack")},
                                   {mapping(3, "alice@example.org", 2, "@alice", Direction::in),
                                    mapping(1, "alice@example.org", 1, "alice@mail.example", Direction::out),
                                    mapping(2, "bob@example.org", 1, "bob@mail.example")});
    EXPECT_EQ(ids(snapshot.mappings_for("alice@example.org")), (Ids{1, 3}));
    EXPECT_EQ(ids(snapshot.mappings_for("bob@example.org")), (Ids{2}));
    EXPECT_TRUE(snapshot.mappings_for("carol@example.org").empty());
}

TEST(MappingSnapshot, XmppAddressesAreNormalisedLikeJidButRemoteAddressesAreExact) {
    const MappingSnapshot snapshot({connector(1, "mail")},
                                   {mapping(1, "Alice@Example.ORG", 1, "Alice@Mail.Example")});
    const Mapping* found = snapshot.outbound("alice@example.org", "mail", "Alice@Mail.Example");
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->xmpp_address, "alice@example.org");
    EXPECT_EQ(snapshot.outbound("Alice@Example.ORG", "mail", "Alice@Mail.Example"), nullptr)
        << "callers pass Jid::bare_string()";
    EXPECT_EQ(snapshot.outbound("alice@example.org", "mail", "alice@mail.example"), nullptr);
    EXPECT_EQ(ids(snapshot.inbound("mail", "Alice@Mail.Example")), (Ids{1}));
}

TEST(MappingSnapshot, UnroutableMappingsAreRejectedWithAReason) {
    const MappingSnapshot snapshot(
        {connector(1, "mail")},
        {mapping(1, "alice@example.org", 1, "a@mail.example"),
         mapping(2, "ALICE@example.org", 1, "a@mail.example"), // duplicate of 1
         mapping(3, "alice@example.org/phone", 1, "b@mail.example"),
         mapping(4, "not a jid@example.org", 1, "c@mail.example"),
         mapping(5, "alice@example.org", 99, "d@mail.example"),
         mapping(6, "alice@example.org", 99, "e@mail.example", Direction::both, false)});
    EXPECT_EQ(snapshot.size(), 1u);
    ASSERT_EQ(snapshot.rejected().size(), 4u);
    EXPECT_EQ(snapshot.rejected()[0].id, 2);
    EXPECT_NE(snapshot.rejected()[0].reason.find("earlier mapping"), std::string::npos);
    EXPECT_EQ(snapshot.rejected()[1].id, 3);
    EXPECT_NE(snapshot.rejected()[1].reason.find("bare JID"), std::string::npos);
    EXPECT_EQ(snapshot.rejected()[2].id, 4);
    EXPECT_EQ(snapshot.rejected()[3].id, 5);
    EXPECT_EQ(snapshot.rejected()[3].reason, "unknown connector 99");
    EXPECT_EQ(ids(snapshot.inbound("mail", "a@mail.example")), (Ids{1}));
    EXPECT_TRUE(snapshot.inbound("mail", "b@mail.example").empty());
}

TEST(MappingSnapshot, LookupsAcceptViewsIntoLargerBuffers) {
    const MappingSnapshot snapshot({connector(1, "mail")}, {mapping(1, "alice@example.org", 1, "a@b.c")});
    const std::string buffer = "alice@example.org|mail|a@b.c|";
    const std::string_view all(buffer);
    const Mapping* found = snapshot.outbound(all.substr(0, 17), all.substr(18, 4), all.substr(23, 5));
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->id, 1);
    EXPECT_EQ(snapshot.outbound(all.substr(0, 17), all.substr(18, 4), all.substr(23, 6)), nullptr);
}

TEST(MappingSnapshot, ManyMappingsAreAllFound) {
    std::vector<Mapping> mappings;
    for (int i = 0; i < 5000; ++i)
        mappings.push_back(mapping(i + 1, "user" + std::to_string(i) + "@example.org", 1 + i % 2,
                                   "r" + std::to_string(i / 2),
                                   i % 3 == 0 ? Direction::in : Direction::both));
    const MappingSnapshot snapshot({connector(1, "one"), connector(2, "two")}, std::move(mappings));
    EXPECT_EQ(snapshot.size(), 5000u);
    for (int i = 0; i < 5000; ++i) {
        const std::string jid = "user" + std::to_string(i) + "@example.org";
        const std::string remote = "r" + std::to_string(i / 2);
        const Mapping* found = snapshot.outbound(jid, i % 2 == 0 ? "one" : "two", remote);
        if (i % 3 == 0) {
            EXPECT_EQ(found, nullptr) << i;
        } else {
            ASSERT_NE(found, nullptr) << i;
            EXPECT_EQ(found->id, i + 1);
        }
        EXPECT_EQ(ids(snapshot.inbound(i % 2 == 0 ? "one" : "two", remote)), (Ids{i + 1})) << i;
    }
}

} // namespace
} // namespace ferry::store
