// What the built-in presets make of the services' documented events: messages, thread replies, edits and
// deletions, and what is not bridged (bots' changes, unchanged text).
#include "bridge/base/logger.hpp"
#include "bridge/core/message.hpp"
#include "bridge/store/mapping_snapshot.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/service_reading.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry::connectors::rest {
namespace {

using namespace core;

using json = nlohmann::json;

constexpr const char* slack_channel = "C0LAN2Q65";
constexpr const char* matrix_room = "!jEsUZKDJdhlrceRyVU:example.org";

class ServiceEvents : public ::testing::Test {
protected:
    ServiceEvents() : snapshot_(connectors(), mappings()) {}

    /// The messages `body` becomes for a connector of `kind` (named like it), as stored in the outbox.
    std::vector<Message> read(const std::string& kind, const json& body,
                              const std::string& id = "delivery-1") {
        const Preset* preset = find_preset(kind);
        EXPECT_NE(preset, nullptr);
        const ServiceReading request = messages_from(
            *preset->receive, snapshot_, *snapshot_.connector(connector_id(kind)), body, id, logger_);
        std::vector<Message> messages;
        for (const OutboxEntry& entry : request.entries)
            messages.push_back(message_from_json(entry.payload));
        return messages;
    }

private:
    static std::int64_t connector_id(const std::string& kind) {
        return kind == "slack" ? 1 : kind == "matrix" ? 2 : 3;
    }
    static std::vector<store::Connector> connectors() {
        std::vector<store::Connector> list;
        for (const char* kind : {"slack", "matrix", "telegram"}) {
            store::Connector c;
            c.id = connector_id(kind);
            c.name = kind;
            c.kind = kind;
            c.settings = kind == std::string_view("matrix") ? json{{"bot_user", "@ferry"}} : json::object();
            list.push_back(std::move(c));
        }
        return list;
    }
    static std::vector<store::Mapping> mappings() {
        std::vector<store::Mapping> list;
        const std::pair<std::int64_t, const char*> remotes[] = {
            {1, slack_channel}, {2, matrix_room}, {3, "-1001234567890"}};
        for (const auto& [connector, remote] : remotes) {
            store::Mapping m;
            m.id = connector * 10;
            m.xmpp_address = "room@muc.example.org";
            m.connector_id = connector;
            m.remote_address = remote;
            m.direction = store::Direction::in;
            list.push_back(std::move(m));
        }
        return list;
    }

    Logger logger_{LogLevel::error};
    store::MappingSnapshot snapshot_;
};

json slack_callback(json event) {
    event["channel"] = slack_channel;
    return {{"type", "event_callback"}, {"event_id", "Ev0PV52K25"}, {"event", std::move(event)}};
}

TEST_F(ServiceEvents, SlackMessageKeepsItsTsAndChannel) {
    const auto messages = read(
        "slack",
        slack_callback(
            {{"type", "message"}, {"user", "U061F7AUR"}, {"text", "hello"}, {"ts", "1355517523.000005"}}));
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "message");
    EXPECT_EQ(messages[0].source_id, "1355517523.000005");
    EXPECT_EQ(messages[0].channel, slack_channel);
    EXPECT_EQ(messages[0].refers_to, "");
}

TEST_F(ServiceEvents, SlackThreadReplyNamesTheThreadsFirstMessage) {
    const auto messages = read("slack", slack_callback({{"type", "message"},
                                                        {"user", "U061F7AUR"},
                                                        {"text", "agreed"},
                                                        {"ts", "1355517600.000001"},
                                                        {"thread_ts", "1355517523.000005"}}));
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "reply");
    EXPECT_EQ(messages[0].refers_to, "1355517523.000005");
    EXPECT_EQ(messages[0].text, "agreed");
}

TEST_F(ServiceEvents, SlackEditAndDeletionNameTheChangedMessage) {
    const json changed = slack_callback(
        {{"type", "message"},
         {"subtype", "message_changed"},
         {"hidden", true},
         {"ts", "1358878755.000001"},
         {"message",
          {{"type", "message"},
           {"user", "U061F7AUR"},
           {"text", "Hello, *world*!"},
           {"ts", "1355517523.000005"}}},
         {"previous_message", {{"type", "message"}, {"user", "U061F7AUR"}, {"text", "Hello"}}}});
    auto messages = read("slack", changed);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "edit");
    EXPECT_EQ(messages[0].refers_to, "1355517523.000005");
    EXPECT_EQ(messages[0].from, "U061F7AUR");
    EXPECT_EQ(messages[0].text, "Hello, *world*!");

    const json deleted = slack_callback({{"type", "message"},
                                         {"subtype", "message_deleted"},
                                         {"hidden", true},
                                         {"ts", "1358878755.000001"},
                                         {"deleted_ts", "1355517523.000005"},
                                         {"previous_message", {{"user", "U061F7AUR"}, {"text", "Hello"}}}});
    messages = read("slack", deleted);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "retraction");
    EXPECT_EQ(messages[0].refers_to, "1355517523.000005");
    EXPECT_EQ(messages[0].from, "U061F7AUR");
}

TEST_F(ServiceEvents, SlackChangesThatAreNoEditsAreNotBridged) {
    // A link preview added: the text is what it was.
    EXPECT_TRUE(read("slack", slack_callback({{"type", "message"},
                                              {"subtype", "message_changed"},
                                              {"message", {{"user", "U1"}, {"text", "see x"}, {"ts", "1.1"}}},
                                              {"previous_message", {{"text", "see x"}}}}))
                    .empty());
    // Ferry's own post, updated by Ferry (chat.update) or deleted: the app's doing, not news.
    EXPECT_TRUE(
        read("slack", slack_callback({{"type", "message"},
                                      {"subtype", "message_changed"},
                                      {"message", {{"bot_id", "B0FFV41KK"}, {"text", "new"}, {"ts", "1.1"}}},
                                      {"previous_message", {{"text", "old"}}}}))
            .empty());
    EXPECT_TRUE(
        read("slack", slack_callback({{"type", "message"},
                                      {"subtype", "message_deleted"},
                                      {"deleted_ts", "1.1"},
                                      {"previous_message", {{"bot_id", "B0FFV41KK"}, {"text", "x"}}}}))
            .empty());
    // Other subtypes (a member joined) stay unbridged, as before.
    EXPECT_TRUE(read("slack", slack_callback({{"type", "message"},
                                              {"subtype", "channel_join"},
                                              {"user", "U1"},
                                              {"text", "<@U1> has joined the channel"},
                                              {"ts", "1.2"}}))
                    .empty());
}

json matrix_event(json content, std::string type = "m.room.message",
                  std::string sender = "@alice:example.org") {
    return {{"type", std::move(type)},
            {"room_id", matrix_room},
            {"sender", std::move(sender)},
            {"event_id", "$new:example.org"},
            {"content", std::move(content)}};
}

TEST_F(ServiceEvents, MatrixEditsRepliesAndRedactionsInOneTransaction) {
    json before_v11 = matrix_event({{"reason", "spam"}}, "m.room.redaction");
    before_v11["redacts"] = "$old:example.org";
    const json transaction = {
        {"events",
         {matrix_event({{"msgtype", "m.text"}, {"body", "first"}}),
          matrix_event({{"msgtype", "m.text"},
                        {"body", " * first, corrected"},
                        {"m.new_content", {{"msgtype", "m.text"}, {"body", "first, corrected"}}},
                        {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$orig:example.org"}}}}),
          matrix_event({{"msgtype", "m.text"},
                        {"body", "> <@bob:example.org> the question\n> goes on\n\nthe answer"},
                        {"m.relates_to", {{"m.in_reply_to", {{"event_id", "$question:example.org"}}}}}}),
          matrix_event({{"redacts", "$orig:example.org"}}, "m.room.redaction"), before_v11,
          matrix_event({{"redacts", "$mine:example.org"}}, "m.room.redaction", "@ferry:example.org")}}};
    const auto messages = read("matrix", transaction);
    ASSERT_EQ(messages.size(), 5u);
    EXPECT_EQ(messages[0].kind, "message");
    EXPECT_EQ(messages[0].source_id, "$new:example.org");
    EXPECT_EQ(messages[1].kind, "edit");
    EXPECT_EQ(messages[1].text, "first, corrected");
    EXPECT_EQ(messages[1].refers_to, "$orig:example.org");
    EXPECT_EQ(messages[2].kind, "reply");
    EXPECT_EQ(messages[2].text, "the answer");
    EXPECT_EQ(messages[2].refers_to, "$question:example.org");
    EXPECT_EQ(messages[3].kind, "retraction");
    EXPECT_EQ(messages[3].refers_to, "$orig:example.org");
    EXPECT_EQ(messages[4].kind, "retraction"); // room versions before 11: `redacts` beside the content
    EXPECT_EQ(messages[4].refers_to, "$old:example.org");
}

TEST_F(ServiceEvents, TelegramEditedMessageAndReply) {
    const json chat = {{"id", -1001234567890}, {"type", "supergroup"}};
    const json from = {{"id", 1111111}, {"is_bot", false}, {"first_name", "Alice"}, {"username", "alice_tg"}};
    auto messages = read("telegram", {{"update_id", 10002},
                                      {"edited_message",
                                       {{"message_id", 1365},
                                        {"chat", chat},
                                        {"from", from},
                                        {"date", 1441645532},
                                        {"edit_date", 1441645600},
                                        {"text", "fixed"}}}});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "edit");
    EXPECT_EQ(messages[0].refers_to, "1365");
    EXPECT_EQ(messages[0].channel, "-1001234567890");
    EXPECT_EQ(messages[0].from, "alice_tg");

    messages =
        read("telegram", {{"update_id", 10003},
                          {"message",
                           {{"message_id", 1366},
                            {"chat", chat},
                            {"from", from},
                            {"text", "yes"},
                            {"reply_to_message", {{"message_id", 1365}, {"chat", chat}, {"text", "?"}}}}}});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "reply");
    EXPECT_EQ(messages[0].refers_to, "1365");
    EXPECT_EQ(messages[0].source_id, "1366");
}

TEST_F(ServiceEvents, MatrixMarkdownBodiesBecomeXmppStylingOnlyWhenFormatted) {
    const json formatted = {{"format", "org.matrix.custom.html"},
                            {"formatted_body", "<strong>kwargs</strong>"}};
    json typed = {{"msgtype", "m.text"}, {"body", "**kwargs** and `**a`"}};
    typed.update(formatted);
    json edit = {{"msgtype", "m.text"},
                 {"body", " * **kwargs**"},
                 {"m.new_content", {{"msgtype", "m.text"}, {"body", "**kwargs**"}}},
                 {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$orig:example.org"}}}};
    json formatted_edit = edit;
    formatted_edit["m.new_content"].update(formatted);
    const json transaction = {
        {"events",
         {matrix_event(typed), matrix_event({{"msgtype", "m.text"}, {"body", "f(**kwargs) ~~x~~"}}),
          matrix_event(formatted_edit), matrix_event(edit)}}};
    const auto messages = read("matrix", transaction);
    ASSERT_EQ(messages.size(), 4u);
    EXPECT_EQ(messages[0].text, "*kwargs* and `**a`") << "Element's Markdown, code kept";
    EXPECT_EQ(messages[1].text, "f(**kwargs) ~~x~~") << "plain text stays as it is";
    EXPECT_EQ(messages[2].text, "*kwargs*");
    EXPECT_EQ(messages[3].text, "**kwargs**");
}

TEST_F(ServiceEvents, TelegramFormattingEntitiesBecomeXmppStyling) {
    const json chat = {{"id", -1001234567890}, {"type", "supergroup"}};
    const json from = {{"id", 1111111}, {"is_bot", false}, {"first_name", "Alice"}, {"username", "alice_tg"}};
    const json entities =
        json::array({{{"type", "bold"}, {"offset", 0}, {"length", 4}},
                     {{"type", "code"}, {"offset", 10}, {"length", 7}},
                     {{"type", "mention"}, {"offset", 22}, {"length", 4}},
                     {{"type", "bold"}, {"offset", "x"}, {"length", 2}}}); // malformed: left out
    auto messages = read("telegram", {{"update_id", 10004},
                                      {"message",
                                       {{"message_id", 1367},
                                        {"chat", chat},
                                        {"from", from},
                                        {"text", "Note: run make -j now @bob"},
                                        {"entities", entities}}}});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].text, "*Note*: run `make -j` now @bob");

    messages = read("telegram",
                    {{"update_id", 10005},
                     {"edited_message",
                      {{"message_id", 1367},
                       {"chat", chat},
                       {"from", from},
                       {"date", 1441645532},
                       {"edit_date", 1441645600},
                       {"text", "Note: done"},
                       {"entities", json::array({{{"type", "italic"}, {"offset", 6}, {"length", 4}}})}}}});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].kind, "edit");
    EXPECT_EQ(messages[0].text, "Note: _done_");
}

TEST(ChangeSpecs, PresetsMustTellChangesFromMessages) {
    json preset = {
        {"kind", "x"},
        {"receive", {{"channel", "/c"}, {"text", "/t"}, {"edit", {{"text", "/t"}, {"refers_to", "/r"}}}}}};
    EXPECT_THROW(Preset::parse(preset), PresetError);
    preset["receive"]["edit"]["only"] = {{"/edited", true}};
    EXPECT_NO_THROW(Preset::parse(preset));
    preset["receive"]["edit"].erase("refers_to");
    EXPECT_THROW(Preset::parse(preset), PresetError);
}

} // namespace
} // namespace ferry::connectors::rest
