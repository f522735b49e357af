// The preset template language and the XEP-0393 ↔ mrkdwn / Markdown / HTML conversions.
#include "connectors/formats/styling.hpp"
#include "connectors/formats/template.hpp"

#include <gtest/gtest.h>

namespace ferry::formats {
namespace {

using json = nlohmann::json;

TEST(Template, FieldsConditionalsAndLoops) {
    const json context = {{"sender", "alice"},
                          {"count", 2},
                          {"alerts", {{{"name", "DiskFull"}}, {{"name", "CPU"}}}},
                          {"empty", ""}};
    EXPECT_EQ(Template("{{sender}} said").render(context), "alice said");
    EXPECT_EQ(Template("{{#if sender}}by {{sender}}{{else}}anonymous{{/if}}").render(context), "by alice");
    EXPECT_EQ(Template("{{#if empty}}x{{else}}none{{/if}}").render(context), "none");
    EXPECT_EQ(Template("{{#unless missing}}no{{/unless}}").render(context), "no");
    EXPECT_EQ(Template("{{#each alerts}}{{@index}}:{{name}} ({{sender}}) {{/each}}").render(context),
              "0:DiskFull (alice) 1:CPU (alice) ");
    EXPECT_EQ(Template("{{alerts.1.name}} {{count}} [{{missing.deep}}]").render(context), "CPU 2 []");
}

TEST(Template, EscapesInsertedValuesNotTheTemplate) {
    const json context = {{"text", "<!channel> & *bold*"}, {"room", "!abc:example.org"}};
    EXPECT_EQ(Template("<b>{{text}}</b>", Escape::html).render(context),
              "<b>&lt;!channel&gt; &amp; <strong>bold</strong></b>");
    EXPECT_EQ(Template("{{text}}", Escape::mrkdwn).render(context), "&lt;!channel&gt; &amp; *bold*");
    EXPECT_EQ(Template("{{text | plain}}", Escape::mrkdwn).render(context), "<!channel> & *bold*");
    EXPECT_EQ(Template("/rooms/{{room | url}}/send").render(context), "/rooms/%21abc%3Aexample.org/send");
}

TEST(Template, RefusesBrokenTemplates) {
    EXPECT_THROW(Template("{{#if x}}never closed"), TemplateError);
    EXPECT_THROW(Template("{{/if}}"), TemplateError);
    EXPECT_THROW(Template("{{x"), TemplateError);
    EXPECT_THROW(Template("{{x | shout}}"), TemplateError);
    EXPECT_THROW(Template("{{#while x}}{{/while}}"), TemplateError);
    EXPECT_THROW(Template("{{a b}}"), TemplateError);
    EXPECT_THROW(Template("{{#each x}}{{/if}}"), TemplateError);
}

TEST(Template, JsonBodiesKeepTypesAndDropEmptyMembers) {
    const json body = {{"chat_id", "{{destination}}"},
                       {"text", "{{text}}"},
                       {"reply_to", "{{reply}}"},
                       {"relates", {{"in_reply_to", {{"event_id", "{{reply}}"}}}}},
                       {"mentions", {{"parse", json::array()}}},
                       {"nested", {{"n", "{{count}}"}, {"list", {"{{text}}", "x"}}}}};
    const json context = {{"destination", 12345}, {"text", "a<b"}, {"count", 3}};
    const json out = render_json(body, context, Escape::html);
    EXPECT_EQ(out["chat_id"], 12345);
    EXPECT_EQ(out["text"], "a&lt;b");
    EXPECT_FALSE(out.contains("reply_to"));
    EXPECT_FALSE(out.contains("relates")); // nothing left inside: the whole member goes
    EXPECT_EQ(out["mentions"], (json{{"parse", json::array()}}));
    EXPECT_EQ(out["nested"]["n"], 3);
    EXPECT_EQ(out["nested"]["list"][0], "a&lt;b");
    EXPECT_THROW(check_json_template(json{{"a", {"{{#if x}}"}}}), TemplateError);
}

TEST(Styling, Xep0393ToEachMarkup) {
    const std::string text = "*bold* _it_ ~gone~ `a*b` x*y\n> quoted *q*\n```\n<code> & *raw*\n```\nend";
    EXPECT_EQ(styled(text, Escape::mrkdwn),
              "*bold* _it_ ~gone~ `a*b` x*y\n> quoted *q*\n```\n&lt;code&gt; &amp; *raw*\n```\nend");
    EXPECT_EQ(styled(text, Escape::markdown),
              "**bold** _it_ ~~gone~~ `a\\*b` x\\*y\n> quoted **q**\n```\n<code> & *raw*\n```\nend");
    EXPECT_EQ(styled(text, Escape::html),
              "<strong>bold</strong> <em>it</em> <del>gone</del> <code>a*b</code> x*y<br>"
              "<blockquote>quoted <strong>q</strong></blockquote><pre>&lt;code&gt; &amp; *raw*</pre><br>end");
    EXPECT_EQ(styled("*a*\nb", Escape::telegram), "<strong>a</strong>\nb");
    EXPECT_EQ(styled(text, Escape::plain), text);
}

TEST(Styling, UnmatchedDirectivesAreText) {
    EXPECT_EQ(styled("2 * 3 * 4", Escape::markdown), "2 \\* 3 \\* 4");
    EXPECT_EQ(styled("* not bold*", Escape::html), "* not bold*");
    EXPECT_EQ(styled("*not\nbold*", Escape::html), "*not<br>bold*");
    EXPECT_EQ(styled("# title", Escape::markdown), "\\# title");
}

TEST(Styling, ManyUnmatchedDirectivesStayText) {
    std::string line;
    for (int i = 0; i < 20000; ++i)
        line += " *x _y";
    EXPECT_EQ(styled(line, Escape::html), line); // no opener has a closing mark: all of it is text
    EXPECT_EQ(styled(line + "\n*z*", Escape::html), line + "<br><strong>z</strong>");
}

TEST(Styling, RemoteMarkupBackToXmppText) {
    EXPECT_EQ(from_mrkdwn("Hi <@U024BE7LH|bob>, see <https://example.org|the docs> &amp; <#C123|general> "
                          "&lt;3 <!here>"),
              "Hi @bob, see the docs <https://example.org> & #general <3 @here");
    EXPECT_EQ(from_markdown("**bold** ~~gone~~ [docs](https://example.org) 2 \\* 3"),
              "*bold* ~gone~ docs <https://example.org> 2 * 3");
    EXPECT_EQ(from_markdown("call `__init__(**kw)` then\n```\nf(**a, \\*b)\n```\n**done**"),
              "call `__init__(**kw)` then\n```\nf(**a, \\*b)\n```\n*done*")
        << "code is kept as written";
    EXPECT_EQ(from_markdown("an ` alone and **x**"), "an ` alone and *x*");
}

TEST(Styling, TelegramEntitiesBecomeXmppStyling) {
    // Offsets count UTF-16 units: "😀" is two of them, "é" one.
    const std::string text = "😀 bold é and italic, gone, run ls now, see docs";
    const std::vector<TextEntity> entities = {{"bold", 3, 6, ""},           // "bold é"
                                              {"italic", 14, 8, ""},        // "italic, " (space stays out)
                                              {"strikethrough", 22, 4, ""}, // "gone"
                                              {"code", 32, 2, ""},          // "ls"
                                              {"text_link", 44, 4, "https://example.org/docs"},
                                              {"underline", 0, 2, ""}}; // no XEP-0393 equivalent: plain
    EXPECT_EQ(from_entities(text, entities),
              "😀 *bold é* and _italic,_ ~gone~, run `ls` now, see docs <https://example.org/docs>");
}

TEST(Styling, NestedEntitiesNestAndPreIsABlockOnLinesOfItsOwn) {
    EXPECT_EQ(from_entities("very important", {{"bold", 0, 14, ""}, {"italic", 0, 4, ""}}),
              "*_very_ important*");
    EXPECT_EQ(from_entities("very", {{"bold", 0, 4, ""}, {"italic", 0, 4, ""}, {"strikethrough", 0, 4, ""}}),
              "*_~very~_*")
        << "one range formatted several ways";
    EXPECT_EQ(from_entities("run: make all then", {{"pre", 5, 8, ""}}), "run: \n```\nmake all\n```\n then");
    EXPECT_EQ(from_entities("abc", {{"bold", 2, 40, ""}, {"italic", 7, 1, ""}}), "ab*c*")
        << "ranges past the end are cut there";
    EXPECT_EQ(from_entities("plain", {}), "plain");
}

} // namespace
} // namespace ferry::formats
