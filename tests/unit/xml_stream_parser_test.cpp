#include "bridge/xmpp/xml_stream_parser.hpp"

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace ferry::xmpp {
namespace {

constexpr std::string_view stream_header =
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns='jabber:component:accept' from='ferry.localhost' id='abc123'>";

/// Collects what the parser reports.
struct Recorder {
    std::string stream_id;
    std::vector<std::string> stanzas; // serialised
    std::vector<XmlNode> nodes;
    std::vector<std::pair<std::string, std::string>> refused; // serialised head, reason
    bool closed = false;

    XmlStreamParser::Callbacks callbacks() {
        return {.stream_opened = [this](const XmlNode& h) { stream_id = h.attribute("id"); },
                .stanza =
                    [this](XmlNode s) {
                        stanzas.push_back(s.to_string("jabber:component:accept"));
                        nodes.push_back(std::move(s));
                    },
                .stream_closed = [this] { closed = true; },
                .stanza_refused =
                    [this](XmlNode head, std::string reason) {
                        refused.emplace_back(head.to_string("jabber:component:accept"), std::move(reason));
                    }};
    }
};

const std::string chat_message =
    "<message from='alice@localhost/phone' to='bob@ferry.localhost' type='chat' id='m1'>"
    "<body>Hello &amp; welcome &lt;3</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>";

TEST(XmlStreamParser, ReportsStreamHeaderAndStanzas) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    EXPECT_EQ(r.stream_id, "abc123");
    ASSERT_TRUE(parser.feed(chat_message));
    ASSERT_EQ(r.nodes.size(), 1u);
    const XmlNode& m = r.nodes[0];
    EXPECT_EQ(m.name(), "message");
    EXPECT_EQ(m.xmlns(), "jabber:component:accept");
    EXPECT_EQ(m.attribute("to"), "bob@ferry.localhost");
    ASSERT_NE(m.child("body"), nullptr);
    EXPECT_EQ(m.child("body")->text(), "Hello & welcome <3");
    EXPECT_NE(m.child("active", "http://jabber.org/protocol/chatstates"), nullptr);
    EXPECT_EQ(r.stanzas[0],
              "<message from='alice@localhost/phone' to='bob@ferry.localhost' type='chat' id='m1'>"
              "<body>Hello &amp; welcome &lt;3</body>"
              "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    ASSERT_TRUE(parser.feed("</stream:stream>"));
    EXPECT_TRUE(r.closed);
}

TEST(XmlStreamParser, SameResultFedByteByByte) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    const std::string input = std::string(stream_header) + chat_message + " \n" + chat_message;
    for (char c : input)
        ASSERT_TRUE(parser.feed(std::string_view(&c, 1)));
    ASSERT_EQ(r.stanzas.size(), 2u);
    EXPECT_EQ(r.stanzas[0], r.stanzas[1]);
    EXPECT_EQ(r.nodes[0].child("body")->text(), "Hello & welcome <3");
}

TEST(XmlStreamParser, SameResultFedInRandomChunks) {
    std::string input(stream_header);
    for (int i = 0; i < 50; ++i)
        input += chat_message;
    std::mt19937 random(42);
    for (int round = 0; round < 20; ++round) {
        Recorder r;
        XmlStreamParser parser({}, r.callbacks());
        std::size_t offset = 0;
        while (offset < input.size()) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 97)(random);
            ASSERT_TRUE(parser.feed(std::string_view(input).substr(offset, n)));
            offset += n;
        }
        ASSERT_EQ(r.nodes.size(), 50u);
        for (const auto& s : r.stanzas)
            EXPECT_EQ(s, r.stanzas[0]);
    }
}

TEST(XmlStreamParser, StanzaSplitAcrossTwoReadsIsDispatchedWhenItsLastByteArrives) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    const std::string first = chat_message.substr(0, chat_message.size() / 2);
    const std::string second = chat_message.substr(chat_message.size() / 2);
    ASSERT_TRUE(parser.feed(first));
    EXPECT_TRUE(r.nodes.empty());
    ASSERT_TRUE(parser.feed(second));
    // With expat's reparse deferral on, this stanza would wait for more input.
    ASSERT_EQ(r.nodes.size(), 1u);
    // Many small stanzas in one read are all delivered at once, too.
    std::string burst;
    for (int i = 0; i < 10; ++i)
        burst += "<iq type='get' id='p" + std::to_string(i) +
                 "' from='a@localhost' to='ferry.localhost'>"
                 "<ping xmlns='urn:xmpp:ping'/></iq>";
    ASSERT_TRUE(parser.feed(burst));
    EXPECT_EQ(r.nodes.size(), 11u);
}

TEST(XmlStreamParser, KeepsMixedContentAndXmlLang) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(
        parser.feed("<message xml:lang='de'><html xmlns='http://jabber.org/protocol/xhtml-im'>"
                    "<body xmlns='http://www.w3.org/1999/xhtml'>a<b>bold</b> tail &amp; more</body></html>"
                    "</message>"));
    ASSERT_EQ(r.stanzas.size(), 1u);
    EXPECT_EQ(r.stanzas[0],
              "<message xml:lang='de'><html xmlns='http://jabber.org/protocol/xhtml-im'>"
              "<body xmlns='http://www.w3.org/1999/xhtml'>a<b>bold</b> tail &amp; more</body></html>"
              "</message>");
}

TEST(XmlStreamParser, PrefixedPayloadNamespacesAreResolved) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed("<iq type='get' id='1' xmlns:p='urn:xmpp:ping'><p:ping/></iq>"));
    ASSERT_EQ(r.nodes.size(), 1u);
    ASSERT_NE(r.nodes[0].child("ping", "urn:xmpp:ping"), nullptr);
}

TEST(XmlStreamParser, StreamErrorIsAStanzaInTheStreamsNamespace) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                            "</stream:error>"));
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].name(), "error");
    EXPECT_EQ(r.nodes[0].xmlns(), "http://etherx.jabber.org/streams");
}

struct Rejection {
    const char* name;
    std::string input;
    ParseError expected;
};

class XmlStreamParserRejects : public testing::TestWithParam<Rejection> {};

TEST_P(XmlStreamParserRejects, WithTheRightCondition) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 1024, .max_depth = 8}, r.callbacks());
    const std::string& input = GetParam().input;
    bool ok = true;
    for (std::size_t i = 0; i < input.size() && ok; i += 7)
        ok = parser.feed(std::string_view(input).substr(i, 7));
    EXPECT_FALSE(ok);
    EXPECT_EQ(parser.error(), GetParam().expected) << parser.error_text();
    EXPECT_FALSE(parser.error_text().empty());
    EXPECT_FALSE(parser.feed("<message/>")) << "a failed stream stays failed";
    EXPECT_TRUE(r.nodes.empty());
}

const std::string header(stream_header);

INSTANTIATE_TEST_SUITE_P(
    Inputs, XmlStreamParserRejects,
    testing::Values(
        Rejection{"Doctype", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]>" + header,
                  ParseError::restricted_xml},
        Rejection{"BillionLaughs",
                  "<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>"
                  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>&lol2;",
                  ParseError::restricted_xml},
        Rejection{"ExternalEntity", "<!DOCTYPE x SYSTEM 'file:///etc/passwd'>" + header,
                  ParseError::restricted_xml},
        Rejection{"ProcessingInstruction", header + "<?evil stuff?>", ParseError::restricted_xml},
        Rejection{"Comment", header + "<message><!-- hi --></message>", ParseError::restricted_xml},
        Rejection{"UndefinedEntity", header + "<message><body>&nbsp;</body></message>",
                  ParseError::not_well_formed},
        Rejection{"MismatchedTag", header + "<message><body></message>", ParseError::not_well_formed},
        Rejection{"InvalidUtf8", header + "<message><body>\xC3\x28</body></message>",
                  ParseError::not_well_formed},
        Rejection{"OverlongUtf8", header + "<message><body>\xC0\xAF</body></message>",
                  ParseError::not_well_formed},
        Rejection{"ControlCharacter", header + "<message><body>\x01</body></message>",
                  ParseError::not_well_formed},
        Rejection{"WrongRoot", "<html xmlns='http://www.w3.org/1999/xhtml'>", ParseError::invalid_namespace},
        Rejection{"TooBigUnfinishedAttribute", header + "<message to='" + std::string(2000, 'a'),
                  ParseError::policy_violation},
        Rejection{"SkippedStanzaFarOverTheLimit",
                  header + "<message><body>" + std::string(17 * 1024, 'a') + "</body></message>",
                  ParseError::policy_violation},
        Rejection{"StreamHeaderWithTooManyAttributes",
                  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'" +
                      [] {
                          std::string s;
                          for (int i = 0; i < 101; ++i)
                              s += " a" + std::to_string(i) + "='x'";
                          return s;
                      }() +
                      ">",
                  ParseError::policy_violation}),
    [](const testing::TestParamInfo<Rejection>& info) { return info.param.name; });

TEST(XmlStreamParser, AcceptsAStanzaExactlyAtTheDepthLimit) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 1024, .max_depth = 4}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed("<a><b><c/></b></a>")) << parser.error_text();
    EXPECT_EQ(r.nodes.size(), 1u);
    ASSERT_TRUE(parser.feed("<a><b><c><d/></c></b></a>")) << parser.error_text();
    EXPECT_EQ(r.nodes.size(), 1u);
    ASSERT_EQ(r.refused.size(), 1u);
    EXPECT_EQ(r.refused[0].second, "elements nested deeper than the limit of 4");
}

/// A stanza over a limit is that stanza's problem: it is skipped and reported with what an error reply needs,
/// and the stanzas after it arrive as usual.
struct OverLimit {
    const char* name;
    std::string stanza;
    std::string reason;
};

class XmlStreamParserSkips : public testing::TestWithParam<OverLimit> {};

TEST_P(XmlStreamParserSkips, TheStanzaAndKeepsTheStream) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 4096, .max_depth = 8}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    const std::string input = GetParam().stanza + chat_message;
    for (std::size_t i = 0; i < input.size(); i += 100)
        ASSERT_TRUE(parser.feed(std::string_view(input).substr(i, 100))) << parser.error_text();
    ASSERT_EQ(r.refused.size(), 1u);
    EXPECT_EQ(r.refused[0].first, "<message from='mallory@localhost/x' to='alice%hook@ferry.localhost' "
                                  "id='bad1' type='chat'/>");
    EXPECT_EQ(r.refused[0].second, GetParam().reason);
    ASSERT_EQ(r.nodes.size(), 1u) << "the next stanza still arrives";
    EXPECT_EQ(r.nodes[0].attribute("id"), "m1");
}

const std::string bad_open = "<message from='mallory@localhost/x' to='alice%hook@ferry.localhost' id='bad1' "
                             "type='chat' xml:lang='en'>";

std::string nested(int levels) {
    std::string s;
    for (int i = 0; i < levels; ++i)
        s += "<x>";
    for (int i = 0; i < levels; ++i)
        s += "</x>";
    return s;
}

std::string with_attributes(int count) {
    std::string s = "<x";
    for (int i = 0; i < count; ++i)
        s += " a" + std::to_string(i) + "='v'";
    return s + "/>";
}

INSTANTIATE_TEST_SUITE_P(
    Stanzas, XmlStreamParserSkips,
    testing::Values(
        OverLimit{"TooBigText", bad_open + "<body>" + std::string(8000, 'a') + "</body></message>",
                  "stanza larger than the limit of 4096 bytes"},
        OverLimit{"TooBigEscapedText",
                  bad_open + "<body>" +
                      [] {
                          std::string s;
                          for (int i = 0; i < 1500; ++i)
                              s += "&gt;";
                          return s;
                      }() +
                      "</body></message>",
                  "stanza larger than the limit of 4096 bytes"},
        OverLimit{"TooManyChildren",
                  bad_open +
                      [] {
                          std::string s;
                          for (int i = 0; i < 2000; ++i)
                              s += "<x/>";
                          return s;
                      }() +
                      "</message>",
                  "stanza larger than the limit of 4096 bytes"},
        OverLimit{"TooDeep", bad_open + nested(9) + "</message>",
                  "elements nested deeper than the limit of 8"},
        OverLimit{"FarTooDeep", bad_open + nested(500) + "</message>",
                  "elements nested deeper than the limit of 8"},
        OverLimit{"TooManyAttributesInAChild", bad_open + with_attributes(101) + "</message>",
                  "an element with 101 attributes; the limit is 100"},
        OverLimit{
            "TooManyAttributesOnTheStanza",
            "<message from='mallory@localhost/x' to='alice%hook@ferry.localhost' id='bad1' type='chat'" +
                with_attributes(200).substr(2, with_attributes(200).size() - 4) + "/>",
            "an element with 204 attributes; the limit is 100"}),
    [](const testing::TestParamInfo<OverLimit>& info) { return info.param.name; });

TEST(XmlStreamParser, AnElementWithOneHundredAttributesIsAccepted) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed("<message>" + with_attributes(100) + "</message>")) << parser.error_text();
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].first_child()->attributes().size(), 100u);
    EXPECT_TRUE(r.refused.empty());
}

TEST(XmlStreamParser, TwentyThousandAttributesAreSkippedNotBuilt) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed(bad_open + with_attributes(20000) + "</message>")) << parser.error_text();
    ASSERT_EQ(r.refused.size(), 1u);
    EXPECT_EQ(r.refused[0].second, "an element with 20000 attributes; the limit is 100");
    EXPECT_TRUE(r.nodes.empty());
}

TEST(XmlStreamParser, DuplicateAttributesStillEndTheStream) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    EXPECT_FALSE(parser.feed("<message id='a' id='b'/>"));
    EXPECT_EQ(parser.error(), ParseError::not_well_formed);
}

TEST(XmlStreamParser, EndlessNestingInASkippedStanzaEndsTheStream) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 16 * 1024 * 1024UL, .max_depth = 8}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    std::string deep = "<message>";
    for (int i = 0; i < 100'001; ++i)
        deep += "<x>";
    EXPECT_FALSE(parser.feed(deep));
    EXPECT_EQ(parser.error(), ParseError::policy_violation);
}

TEST(XmlStreamParser, SizeLimitIsPerStanzaNotPerStream) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 1024, .max_depth = 8}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    const std::string stanza = "<message><body>" + std::string(900, 'x') + "</body></message>";
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(parser.feed(stanza)) << parser.error_text();
    EXPECT_EQ(r.nodes.size(), 100u);
}

TEST(XmlStreamParser, WhitespaceKeepalivesDoNotCountTowardsTheLimit) {
    Recorder r;
    XmlStreamParser parser({.max_stanza_size = 1024, .max_depth = 8}, r.callbacks());
    ASSERT_TRUE(parser.feed(stream_header));
    for (int i = 0; i < 5000; ++i)
        ASSERT_TRUE(parser.feed(" ")) << parser.error_text();
    ASSERT_TRUE(parser.feed(chat_message));
    EXPECT_EQ(r.nodes.size(), 1u);
}

TEST(XmlStreamParser, ResetStartsANewStream) {
    Recorder r;
    XmlStreamParser parser({}, r.callbacks());
    ASSERT_FALSE(parser.feed("<junk>"));
    parser.reset();
    EXPECT_EQ(parser.error(), ParseError::none);
    ASSERT_TRUE(parser.feed(stream_header));
    ASSERT_TRUE(parser.feed(chat_message));
    EXPECT_EQ(r.nodes.size(), 1u);
}

TEST(XmlStreamParser, ConditionsNameRfc6120StreamErrors) {
    EXPECT_EQ(stream_error_condition(ParseError::not_well_formed), "not-well-formed");
    EXPECT_EQ(stream_error_condition(ParseError::restricted_xml), "restricted-xml");
    EXPECT_EQ(stream_error_condition(ParseError::policy_violation), "policy-violation");
    EXPECT_EQ(stream_error_condition(ParseError::invalid_namespace), "invalid-namespace");
}

} // namespace
} // namespace ferry::xmpp
