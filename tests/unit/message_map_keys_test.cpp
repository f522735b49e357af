// The outbox conversations and message_map keys. Their text is stored in databases that outlive a version of
// Ferry: a change here would orphan what earlier versions recorded, so the formats docs/schema.md gives are
// pinned.
#include "bridge/store/conversations.hpp"
#include "bridge/store/message_map.hpp"

#include <gtest/gtest.h>

namespace ferry::store {
namespace {

TEST(Conversations, InboundAndOutboundOfAMapping) {
    EXPECT_EQ(inbound_conversation(42), "mapping:42:in");
    EXPECT_EQ(outbound_conversation(42), "mapping:42:out");
    EXPECT_EQ(inbound_conversation_mapping(inbound_conversation(9007199254740993)), 9007199254740993);
    EXPECT_TRUE(is_inbound_conversation(inbound_conversation(1)));
    EXPECT_FALSE(is_inbound_conversation(outbound_conversation(1)));
}

TEST(Conversations, AMappingManyShareHasOnePerPart) {
    EXPECT_EQ(inbound_conversation(42, "alice@example.org"), "mapping:42:alice@example.org:in");
    EXPECT_EQ(inbound_conversation_mapping(inbound_conversation(42, "alice@example.org")), 42);
    EXPECT_EQ(inbound_conversation_mapping(inbound_conversation(42, "a:in")), 42);
    EXPECT_TRUE(is_inbound_conversation(inbound_conversation(42, "alice@example.org")));
}

TEST(Conversations, AnythingElseNamesNoMapping) {
    for (const char* text : {"mapping:7:out", "mapping::in", "mapping:x:in", "mapping:7 :in", "mapping:-:in",
                             "mapping:99999999999999999999:in", "other:7:in", ""})
        EXPECT_EQ(inbound_conversation_mapping(text), std::nullopt) << text;
}

TEST(MessageMapKeys, EachKindOfEntryHasItsDocumentedKey) {
    namespace mm = message_map;
    const MessageMapKey said = mm::xmpp_said("mapping:3:out", "ops@conference.example.org/alice");
    EXPECT_EQ(said.system, "xmpp");
    EXPECT_EQ(said.conversation, "mapping:3:out ops@conference.example.org/alice");

    const MessageMapKey from_service = mm::service_said(5, "mapping:4:in", "C0LAN2Q65");
    EXPECT_EQ(from_service.system, "5");
    EXPECT_EQ(from_service.conversation, "mapping:4:in C0LAN2Q65");

    const MessageMapKey posted = mm::posted("5", "C0LAN2Q65");
    EXPECT_EQ(posted.system, "5");
    EXPECT_EQ(posted.conversation, "C0LAN2Q65");

    const MessageMapKey root = mm::thread_root("5", "C0LAN2Q65", "1765100000.000200");
    EXPECT_EQ(root.system, "5 thread");
    EXPECT_EQ(root.conversation, "C0LAN2Q65 1765100000.000200");

    const MessageMapKey alert = mm::alert_announced(2, "oncall@example.org", "5f1c2b7a9d3e4f60");
    EXPECT_EQ(alert.system, "2");
    EXPECT_EQ(alert.conversation, "oncall@example.org alert 5f1c2b7a9d3e4f60");
    EXPECT_EQ(mm::alert_conversations("oncall@example.org", {"a1", "b2"}),
              (std::vector<std::string>{"oncall@example.org alert a1", "oncall@example.org alert b2"}));
    EXPECT_EQ(mm::alert_group("oncall@example.org", "{}:{alertname=\"DiskFull\"}"),
              "oncall@example.org {}:{alertname=\"DiskFull\"}");
}

} // namespace
} // namespace ferry::store
