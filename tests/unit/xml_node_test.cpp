#include "bridge/xmpp/xml_node.hpp"

#include <gtest/gtest.h>

namespace ferry::xmpp {
namespace {

TEST(XmlNode, EscapesTextAndAttributes) {
    XmlNode message("message", "jabber:component:accept");
    message.set_attribute("to", "a'b\"c@x<y>&z");
    message.add_child("body").set_text("1 < 2 & 3 > 2 \"quoted\" 'single'");
    EXPECT_EQ(
        message.to_string("jabber:component:accept"),
        "<message to='a&apos;b&quot;c@x&lt;y&gt;&amp;z'><body>1 &lt; 2 &amp; 3 &gt; 2 &quot;quoted&quot; "
        "&apos;single&apos;</body></message>");
}

TEST(XmlNode, ControlCharactersBecomeReplacementCharacterAndCrIsKept) {
    XmlNode body("body");
    body.set_text(std::string("a\x01"
                              "b\tc\nd\re"));
    EXPECT_EQ(body.to_string(), "<body>a\xEF\xBF\xBD"
                                "b\tc\nd&#13;e</body>");
}

TEST(XmlNode, NonCharactersAndInvalidUtf8BecomeReplacementCharacter) {
    const std::string fffd = "\xEF\xBF\xBD";
    XmlNode body("body");
    // U+FFFE, U+FFFF, a lone continuation byte, a truncated sequence, an overlong '/', a surrogate (U+D800).
    body.set_text("a\xEF\xBF\xBE"
                  "b\xEF\xBF\xBF"
                  "c\x80"
                  "d\xE2\x82"
                  "e\xC0\xAF"
                  "f\xED\xA0\x80"
                  "g");
    EXPECT_EQ(body.to_string(), "<body>a" + fffd + "b" + fffd + "c" + fffd + "d" + fffd + fffd + "e" + fffd +
                                    fffd + "f" + fffd + fffd + fffd + "g</body>");
}

TEST(XmlNode, KeepsEveryXmlCharacterAsItIs) {
    // U+00E9, U+20AC, U+FFFD itself, U+1F600 and the last code point: all carried unchanged.
    const std::string text = "\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBD\xF0\x9F\x98\x80\xF4\x8F\xBF\xBD";
    XmlNode body("body");
    body.set_text(text);
    EXPECT_EQ(body.to_string(), "<body>" + text + "</body>");
}

TEST(XmlNode, EscapedAttributeValuesAreCheckedToo) {
    XmlNode message("message");
    message.set_attribute("id", "x\xEF\xBF\xBEy\x02");
    EXPECT_EQ(message.to_string(), "<message id='x\xEF\xBF\xBDy\xEF\xBF\xBD'/>");
}

TEST(XmlNode, WritesNamespaceOnlyWhereItChanges) {
    XmlNode iq("iq", "jabber:component:accept");
    XmlNode& query = iq.add_child("query", "http://jabber.org/protocol/disco#info");
    query.add_child("feature", "http://jabber.org/protocol/disco#info").set_attribute("var", "urn:xmpp:ping");
    EXPECT_EQ(iq.to_string("jabber:component:accept"),
              "<iq><query xmlns='http://jabber.org/protocol/disco#info'><feature "
              "var='urn:xmpp:ping'/></query></iq>");
    EXPECT_EQ(iq.to_string(),
              "<iq xmlns='jabber:component:accept'><query "
              "xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:xmpp:ping'/></query></iq>");
}

TEST(XmlNode, SetAttributeReplacesAndRemoveDeletes) {
    XmlNode n("x");
    n.set_attribute("a", "1").set_attribute("b", "2").set_attribute("a", "3");
    EXPECT_EQ(n.attribute("a"), "3");
    EXPECT_EQ(n.attributes().size(), 2u);
    n.remove_attribute("a");
    EXPECT_FALSE(n.has_attribute("a"));
    EXPECT_EQ(n.attribute("a"), "");
}

TEST(XmlNode, CloneIsDeepAndIndependent) {
    XmlNode original("message");
    original.add_child("body").set_text("hi");
    XmlNode copy = original.clone();
    copy.child("body")->set_text("changed");
    EXPECT_EQ(original.child("body")->text(), "hi");
    EXPECT_EQ(copy.to_string(), "<message><body>changed</body></message>");
}

TEST(XmlNode, ChildLookupHonoursNamespace) {
    XmlNode m("message");
    m.add_child("x", "urn:a");
    m.add_child("x", "urn:b").set_text("b");
    EXPECT_EQ(m.child("x", "urn:b")->text(), "b");
    EXPECT_EQ(m.child("x")->xmlns(), "urn:a");
    EXPECT_EQ(m.child("x", "urn:c"), nullptr);
}

TEST(XmlNode, TextAfterChildBecomesItsTail) {
    XmlNode p("p");
    p.append_text("before ");
    p.add_child("b").set_text("bold");
    p.append_text(" after");
    EXPECT_EQ(p.to_string(), "<p>before <b>bold</b> after</p>");
}

} // namespace
} // namespace ferry::xmpp
