#include "bridge/base/logger.hpp"
#include "bridge/xmpp/entity_services.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/xml_stream_parser.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <regex>
#include <string>
#include <vector>

namespace ferry::xmpp {
namespace {

/// Parses one stanza written as text, the way the server would send it.
XmlNode parse_stanza(const std::string& text) {
    std::vector<XmlNode> out;
    XmlStreamParser parser({}, {.stream_opened = {},
                                .stanza = [&](XmlNode s) { out.push_back(std::move(s)); },
                                .stream_closed = {},
                                .stanza_refused = {}});
    const bool ok = parser.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                                "xmlns='jabber:component:accept'>" +
                                text);
    if (!ok || out.size() != 1)
        throw std::runtime_error("bad test stanza: " + parser.error_text());
    return std::move(out.front());
}

class StanzaDispatcherTest : public testing::Test {
protected:
    core::Logger logger{core::LogLevel::error};
    std::vector<std::string> sent;
    StanzaDispatcher dispatcher{
        "ferry.localhost",
        [this](const XmlNode& s) { sent.push_back(s.to_string("jabber:component:accept")); }, logger};

    void SetUp() override { register_entity_services(dispatcher, {.software_version = "1.2.3"}); }

    std::string reply_to(const std::string& stanza) {
        sent.clear();
        dispatcher.dispatch(parse_stanza(stanza));
        if (sent.size() != 1)
            return "<" + std::to_string(sent.size()) + " replies>";
        return sent.front();
    }
};

TEST_F(StanzaDispatcherTest, AnswersPing) {
    EXPECT_EQ(reply_to("<iq type='get' id='p1' from='alice@localhost/x' to='ferry.localhost'>"
                       "<ping xmlns='urn:xmpp:ping'/></iq>"),
              "<iq from='ferry.localhost' to='alice@localhost/x' id='p1' type='result'/>");
}

TEST_F(StanzaDispatcherTest, DiscoInfoAdvertisesGatewayIdentityAndExactlyTheImplementedFeatures) {
    EXPECT_EQ(reply_to("<iq type='get' id='d1' from='alice@localhost/x' to='ferry.localhost'>"
                       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
              "<iq from='ferry.localhost' to='alice@localhost/x' id='d1' type='result'>"
              "<query xmlns='http://jabber.org/protocol/disco#info'>"
              "<identity category='gateway' type='generic' name='Ferry'/>"
              "<feature var='http://jabber.org/protocol/disco#info'/>"
              "<feature var='http://jabber.org/protocol/disco#items'/>"
              "<feature var='jabber:iq:version'/><feature var='urn:xmpp:ping'/><feature var='urn:xmpp:time'/>"
              "</query></iq>");
}

TEST_F(StanzaDispatcherTest, DiscoInfoAddsWhatAFamilyAdvertises) {
    dispatcher.advertise({"gateway", "smtp", "Mail"}, "jabber:iq:gateway");
    EXPECT_EQ(reply_to("<iq type='get' id='d2' from='alice@localhost/x' to='ferry.localhost'>"
                       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
              "<iq from='ferry.localhost' to='alice@localhost/x' id='d2' type='result'>"
              "<query xmlns='http://jabber.org/protocol/disco#info'>"
              "<identity category='gateway' type='generic' name='Ferry'/>"
              "<identity category='gateway' type='smtp' name='Mail'/>"
              "<feature var='http://jabber.org/protocol/disco#info'/>"
              "<feature var='http://jabber.org/protocol/disco#items'/>"
              "<feature var='jabber:iq:gateway'/>"
              "<feature var='jabber:iq:version'/><feature var='urn:xmpp:ping'/><feature var='urn:xmpp:time'/>"
              "</query></iq>");
}

TEST_F(StanzaDispatcherTest, DiscoInfoOnAnUnknownNodeIsItemNotFound) {
    const std::string reply =
        reply_to("<iq type='get' id='d2' from='alice@localhost/x' to='ferry.localhost'>"
                 "<query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>");
    EXPECT_NE(reply.find("type='error'"), std::string::npos);
    EXPECT_NE(reply.find("<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"), std::string::npos);
}

TEST_F(StanzaDispatcherTest, DiscoItemsIsEmptyForNow) {
    EXPECT_EQ(reply_to("<iq type='get' id='i1' from='alice@localhost/x' to='ferry.localhost'>"
                       "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>"),
              "<iq from='ferry.localhost' to='alice@localhost/x' id='i1' type='result'>"
              "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
}

TEST_F(StanzaDispatcherTest, SoftwareVersionNamesFerry) {
    EXPECT_EQ(reply_to("<iq type='get' id='v1' from='alice@localhost/x' to='ferry.localhost'>"
                       "<query xmlns='jabber:iq:version'/></iq>"),
              "<iq from='ferry.localhost' to='alice@localhost/x' id='v1' type='result'>"
              "<query xmlns='jabber:iq:version'><name>Ferry</name><version>1.2.3</version></query></iq>");
}

TEST_F(StanzaDispatcherTest, EntityTimeHasOffsetAndUtc) {
    const std::string reply = reply_to("<iq type='get' id='t1' from='alice@localhost/x' to='ferry.localhost'>"
                                       "<time xmlns='urn:xmpp:time'/></iq>");
    EXPECT_TRUE(std::regex_search(reply, std::regex("<tzo>[+-][0-9]{2}:[0-9]{2}</tzo>"))) << reply;
    EXPECT_TRUE(std::regex_search(
        reply, std::regex("<utc>20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z</utc>")))
        << reply;
}

TEST_F(StanzaDispatcherTest, UnknownIqGetAndSetAreServiceUnavailable) {
    for (const char* type : {"get", "set"}) {
        const std::string reply = reply_to(std::string("<iq type='") + type +
                                           "' id='u1' from='alice@localhost/x' to='ferry.localhost'>"
                                           "<query xmlns='urn:example:nothing'/></iq>");
        EXPECT_EQ(reply,
                  "<iq from='ferry.localhost' to='alice@localhost/x' id='u1' type='error'>"
                  "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                  "</error></iq>");
    }
}

TEST_F(StanzaDispatcherTest, PingSetIsNotAPing) {
    const std::string reply = reply_to("<iq type='set' id='s1' from='alice@localhost/x' to='ferry.localhost'>"
                                       "<ping xmlns='urn:xmpp:ping'/></iq>");
    EXPECT_NE(reply.find("service-unavailable"), std::string::npos);
}

TEST_F(StanzaDispatcherTest, IqWithoutPayloadIsBadRequest) {
    const std::string reply =
        reply_to("<iq type='get' id='b1' from='alice@localhost/x' to='ferry.localhost'/>");
    EXPECT_NE(reply.find("<error type='modify'><bad-request"), std::string::npos) << reply;
}

TEST_F(StanzaDispatcherTest, IqToAnUnknownAddressIsServiceUnavailable) {
    const std::string reply =
        reply_to("<iq type='get' id='n1' from='alice@localhost/x' to='nobody@ferry.localhost'>"
                 "<ping xmlns='urn:xmpp:ping'/></iq>");
    EXPECT_NE(reply.find("from='nobody@ferry.localhost'"), std::string::npos);
    EXPECT_NE(reply.find("service-unavailable"), std::string::npos);
}

TEST_F(StanzaDispatcherTest, MessageToAnUnknownAddressGetsAnErrorWithText) {
    const std::string reply = reply_to("<message type='chat' id='m1' from='alice@localhost/x' "
                                       "to='nobody@ferry.localhost'><body>hi</body></message>");
    EXPECT_NE(
        reply.find("<message from='nobody@ferry.localhost' to='alice@localhost/x' id='m1' type='error'>"),
        std::string::npos)
        << reply;
    EXPECT_NE(reply.find("<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"),
              std::string::npos);
    EXPECT_NE(reply.find("no bridge is mapped to nobody@ferry.localhost"), std::string::npos);
}

TEST_F(StanzaDispatcherTest, PresenceFollowsRfc6121ForUnknownAddresses) {
    EXPECT_EQ(reply_to("<presence from='alice@localhost/x' to='nobody@ferry.localhost'/>"), "<0 replies>");
    EXPECT_EQ(reply_to("<presence type='unavailable' from='alice@localhost/x' to='nobody@ferry.localhost'/>"),
              "<0 replies>");
    EXPECT_NE(reply_to("<presence type='subscribe' from='alice@localhost' to='nobody@ferry.localhost'/>")
                  .find("service-unavailable"),
              std::string::npos);
}

TEST_F(StanzaDispatcherTest, ErrorsAreNeverAnsweredWithErrors) {
    EXPECT_EQ(
        reply_to("<message type='error' from='alice@localhost/x' to='nobody@ferry.localhost'>"
                 "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                 "</message>"),
        "<0 replies>");
    EXPECT_EQ(reply_to("<iq type='error' id='e' from='alice@localhost/x' to='ferry.localhost'/>"),
              "<0 replies>");
    EXPECT_EQ(reply_to("<iq type='result' id='r' from='alice@localhost/x' to='ferry.localhost'/>"),
              "<0 replies>");
}

TEST_F(StanzaDispatcherTest, StanzaForAnotherDomainIsRejected) {
    const std::string reply = reply_to("<message id='x1' from='alice@localhost/x' to='bob@other.example'>"
                                       "<body>hi</body></message>");
    EXPECT_NE(reply.find("item-not-found"), std::string::npos);
}

TEST_F(StanzaDispatcherTest, MalformedToIsJidMalformed) {
    const std::string reply = reply_to("<message id='x2' from='alice@localhost/x' to='a@b@ferry.localhost'>"
                                       "<body>hi</body></message>");
    EXPECT_NE(reply.find("<error type='modify'><jid-malformed"), std::string::npos) << reply;
}

TEST_F(StanzaDispatcherTest, InvalidFromCannotBeAnsweredAndIsLoggedOnly) {
    EXPECT_EQ(reply_to("<message id='x3' from='' to='bob@ferry.localhost'><body>hi</body></message>"),
              "<0 replies>");
}

TEST_F(StanzaDispatcherTest, AddressHandlerTakesKnownAddresses) {
    std::vector<std::string> seen;
    dispatcher.on_address([&](const InboundStanza& s) {
        seen.push_back(s.to.full());
        return s.to.local() == "known";
    });
    EXPECT_EQ(
        reply_to(
            "<message id='k' from='alice@localhost/x' to='known@ferry.localhost'><body>hi</body></message>"),
        "<0 replies>");
    EXPECT_NE(
        reply_to(
            "<message id='u' from='alice@localhost/x' to='other@ferry.localhost'><body>hi</body></message>")
            .find("service-unavailable"),
        std::string::npos);
    EXPECT_EQ(seen, (std::vector<std::string>{"known@ferry.localhost", "other@ferry.localhost"}));
}

} // namespace
} // namespace ferry::xmpp
