// The built-in service presets parse; malformed presets are refused with a reason.
#include "connectors/rest/preset.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::rest {
namespace {

using json = nlohmann::json;

TEST(Preset, EveryBuiltinPresetParses) {
    std::vector<std::string> kinds;
    for (const Preset& preset : builtin_presets())
        kinds.push_back(preset.kind);
    EXPECT_EQ(kinds, (std::vector<std::string>{"discord", "http-json", "matrix", "mattermost", "rocketchat",
                                               "slack-webhook", "slack", "telegram"}));
    const Preset* slack = find_preset("slack");
    ASSERT_NE(slack, nullptr);
    ASSERT_TRUE(slack->send && slack->receive);
    EXPECT_EQ(slack->send->format, Escape::mrkdwn);
    EXPECT_EQ(slack->send->remote_id, "/ts");
    EXPECT_EQ(slack->receive->verify.scheme, "slack_v0");
    EXPECT_TRUE(slack->setting("token")->secret);
    EXPECT_NE(slack->setting("allow_private"), nullptr); // the common settings belong to every preset
    EXPECT_EQ(find_preset("discord")->receive, std::nullopt);
    EXPECT_EQ(find_preset("nope"), nullptr);
}

TEST(Preset, MalformedPresetsAreRefusedWithAReason) {
    const auto refusal = [](const json& document) {
        try {
            Preset::parse(document);
        } catch (const PresetError& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(refusal(json{{"title", "x"}}), "a preset needs a kind");
    EXPECT_EQ(refusal(json{{"kind", "x"}}), "preset x: it neither sends nor receives");
    EXPECT_EQ(refusal(json{{"kind", "x"}, {"send", json::object()}}),
              "preset x.send: a url template is needed");
    EXPECT_NE(refusal(json{{"kind", "x"}, {"send", {{"url", "{{#if a}}"}}}}).find("needs {{/if}}"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"kind", "x"}, {"send", {{"url", "u"}, {"remote_id", "id"}}}})
                  .find("not a JSON Pointer"),
              std::string::npos);
    EXPECT_NE(
        refusal(json{{"kind", "x"}, {"send", {{"url", "u"}, {"format", "rtf"}}}}).find("unknown escape"),
        std::string::npos);
    EXPECT_NE(refusal(json{{"kind", "x"}, {"receive", {{"text", "/t"}}}}).find("text and channel"),
              std::string::npos);
    EXPECT_EQ(refusal(json{{"kind", "x"}, {"send", {{"url", "{{settings.url}}"}}}}), "accepted");
}

} // namespace
} // namespace ferry::connectors::rest
