// Rooms: how a connector's seat catches up after being away, from the room's archive (XEP-0313, paged) when
// its mark has the room's stanza-id, else from the room's history since the mark's second.
#include "bridge/base/logger.hpp"
#include "bridge/core/rooms.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/xml_stream_parser.hpp"

#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::core {
namespace {

constexpr const char* room = "ops@muc.localhost";
constexpr const char* seat = "slack@ferry.localhost/ferry";

xmpp::XmlNode parse_stanza(const std::string& text) {
    std::vector<xmpp::XmlNode> out;
    xmpp::XmlStreamParser parser({}, {.stream_opened = {},
                                      .stanza = [&](xmpp::XmlNode s) { out.push_back(std::move(s)); },
                                      .stream_closed = {},
                                      .stanza_refused = {}});
    if (!parser.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                     "xmlns='jabber:component:accept'>" +
                     text) ||
        out.size() != 1)
        throw std::runtime_error("bad test stanza: " + parser.error_text());
    return std::move(out.front());
}

class RoomsTest : public testing::Test {
protected:
    Logger logger{LogLevel::error};
    std::vector<std::string> sent;
    std::vector<std::string> archived; ///< the archived messages handed on, as XML
    xmpp::StanzaDispatcher stanzas{
        "ferry.localhost", [this](const xmpp::XmlNode& s) { sent.push_back(s.to_string("jabber:client")); },
        logger};
    Rooms rooms{stanzas, logger};

    RoomsTest() {
        rooms.on_archived(
            [this](const xmpp::InboundStanza& m) { archived.push_back(m.node.to_string("jabber:client")); });
    }

    /// Feeds a stanza the room sends; true when Rooms took it.
    bool receive(const std::string& text) {
        const xmpp::XmlNode node = parse_stanza(text);
        const auto from = xmpp::Jid::parse(node.attribute("from"));
        const auto to = xmpp::Jid::parse(node.attribute("to"));
        return rooms.handle(xmpp::InboundStanza{node, *from, *to});
    }

    void joined() {
        EXPECT_FALSE(rooms.seated(room, seat, "slack"));
        receive(std::string("<presence from='") + room + "/slack' to='" + seat +
                "'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>");
        EXPECT_TRUE(rooms.seated(room, seat, "slack"));
    }
};

Rooms::Mark mark_at(long long seconds, std::string archive_id = {}) {
    Rooms::Mark mark;
    mark.second = Rooms::Clock::time_point(std::chrono::seconds(seconds));
    mark.archive_id = std::move(archive_id);
    return mark;
}

TEST_F(RoomsTest, WithoutAnArchiveIdTheJoinAsksForTheHistorySinceTheMark) {
    rooms.set_mark(room, seat, mark_at(1'800'000'000));
    joined();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_NE(sent[0].find("<history since='2027-01-15T08:00:00.000Z'/>"), std::string::npos) << sent[0];
}

TEST_F(RoomsTest, WithAnArchiveIdTheArchiveIsAskedPageByPage) {
    rooms.set_mark(room, seat, mark_at(1'800'000'000, "id-41"));
    joined();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_NE(sent[0].find("<history maxstanzas='0'/>"), std::string::npos) << sent[0];
    EXPECT_NE(sent[1].find("<query xmlns='urn:xmpp:mam:2' queryid='mam:1'><set "
                           "xmlns='http://jabber.org/protocol/rsm'><max>50</max><after>id-41</after></set>"),
              std::string::npos)
        << sent[1];

    // A result: handed on as the room's message, with the archive id as its stanza-id.
    EXPECT_TRUE(
        receive(std::string("<message from='") + room + "' to='" + seat +
                "'><result xmlns='urn:xmpp:mam:2' queryid='mam:1' id='id-42'>"
                "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' "
                "stamp='2027-01-15T08:00:05Z'/><message xmlns='jabber:client' type='groupchat' from='" +
                room + "/alice' id='a1'><body>while away</body></message></forwarded></result></message>"));
    // Ferry's own occupants' messages (a remote sender's seat, not joined since the restart) are not.
    EXPECT_TRUE(
        receive(std::string("<message from='") + room + "' to='" + seat +
                "'><result xmlns='urn:xmpp:mam:2' queryid='mam:1' id='id-43'>"
                "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='groupchat' "
                "from='" +
                room + "/spengler (slack)'><body>echo?</body></message></forwarded></result></message>"));
    ASSERT_EQ(archived.size(), 1u);
    EXPECT_NE(archived[0].find("<body>while away</body>"), std::string::npos) << archived[0];
    EXPECT_NE(archived[0].find("<stanza-id xmlns='urn:xmpp:sid:0' by='ops@muc.localhost' id='id-42'/>"),
              std::string::npos)
        << archived[0];

    // Not complete: the next page, after the last one given.
    EXPECT_TRUE(receive(std::string("<iq type='result' id='mam:1' from='") + room + "' to='" + seat +
                        "'><fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'>"
                        "<first>id-42</first><last>id-43</last></set></fin></iq>"));
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_NE(sent[2].find("<after>id-43</after>"), std::string::npos) << sent[2];
    EXPECT_TRUE(receive(std::string("<iq type='result' id='mam:2' from='") + room + "' to='" + seat +
                        "'><fin xmlns='urn:xmpp:mam:2' complete='true'><set "
                        "xmlns='http://jabber.org/protocol/rsm'/></fin></iq>"));
    EXPECT_EQ(sent.size(), 3u) << "complete: no more pages";
}

TEST_F(RoomsTest, AnUnknownIdIsAskedForByTimeAndARoomWithoutArchiveForItsHistoryNextTime) {
    rooms.set_mark(room, seat, mark_at(1'800'000'000, "id-41"));
    joined();
    EXPECT_TRUE(receive(std::string("<iq type='error' id='mam:1' from='") + room + "' to='" + seat +
                        "'><error type='cancel'><item-not-found "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"));
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_NE(sent[2].find("<field var='start'><value>2027-01-15T08:00:00.000Z</value></field>"),
              std::string::npos)
        << sent[2];
    EXPECT_EQ(sent[2].find("<after>"), std::string::npos) << sent[2];
    EXPECT_TRUE(receive(std::string("<iq type='error' id='mam:2' from='") + room + "' to='" + seat +
                        "'><error type='cancel'><feature-not-implemented "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"));
    EXPECT_EQ(sent.size(), 3u) << "no archive at all: given up";
    rooms.forget_all();
    sent.clear();
    joined();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_NE(sent[0].find("<history since="), std::string::npos) << sent[0];
}

TEST_F(RoomsTest, LiveMessagesMoveTheMarkToTheirStanzaId) {
    std::vector<std::string> ids;
    rooms.on_mark(
        [&](const std::string&, const std::string&, const Rooms::Mark& m) { ids.push_back(m.archive_id); });
    joined();
    EXPECT_FALSE(receive(std::string("<message type='groupchat' from='") + room + "/alice' to='" + seat +
                         "'><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' by='" + room +
                         "' id='id-7'/></message>"))
        << "left to the router, to be bridged";
    ASSERT_EQ(ids, std::vector<std::string>{"id-7"});
}

TEST_F(RoomsTest, LiveMessagesDuringACatchUpMoveTheMarkOnlyWhenItIsDone) {
    std::vector<std::string> ids;
    rooms.on_mark(
        [&](const std::string&, const std::string&, const Rooms::Mark& m) { ids.push_back(m.archive_id); });
    rooms.set_mark(room, seat, mark_at(1'700'000'000, "id-41"));
    joined();
    EXPECT_FALSE(receive(std::string("<message type='groupchat' from='") + room + "/alice' to='" + seat +
                         "'><body>live</body><stanza-id xmlns='urn:xmpp:sid:0' by='" + room +
                         "' id='id-99'/></message>"))
        << "bridged at once";
    EXPECT_TRUE(
        receive(std::string("<message from='") + room + "' to='" + seat +
                "'><result xmlns='urn:xmpp:mam:2' queryid='mam:1' id='id-42'>"
                "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' "
                "stamp='2023-11-14T22:13:25Z'/><message xmlns='jabber:client' type='groupchat' from='" +
                room + "/alice'><body>missed</body></message></forwarded></result></message>"));
    EXPECT_EQ(ids, std::vector<std::string>{"id-42"}) << "the archive's progress, not the live message's";
    receive(std::string("<iq type='result' id='mam:1' from='") + room + "' to='" + seat +
            "'><fin xmlns='urn:xmpp:mam:2' complete='true'/></iq>");
    EXPECT_EQ(ids, (std::vector<std::string>{"id-42", "id-99"}));
}

TEST_F(RoomsTest, ASenderWhoseNickIsTakenJoinsWithAVariant) {
    const std::string john = "U2%slack@ferry.localhost/ferry";
    EXPECT_FALSE(rooms.seated(room, john, "John (slack)"));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_TRUE(
        receive(std::string("<presence type='error' from='") + room + "/John (slack)' to='" + john +
                "'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                "</presence>"));
    ASSERT_EQ(sent.size(), 2u);
    const auto to = sent[1].find("to='ops@muc.localhost/John #");
    ASSERT_NE(to, std::string::npos) << sent[1];
    const std::string variant = sent[1].substr(to + 22, sent[1].find('\'', to + 4) - to - 22);
    EXPECT_TRUE(variant.starts_with("John #") && variant.ends_with(" (slack)")) << variant;
    receive(std::string("<presence from='") + room + "/" + variant + "' to='" + john +
            "'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>");
    EXPECT_TRUE(rooms.seated(room, john, "John (slack)")) << "seated under the variant; no rejoin";
    EXPECT_EQ(sent.size(), 2u);
    EXPECT_TRUE(rooms.own_nick(room, variant, seat));
}

} // namespace
} // namespace ferry::core
