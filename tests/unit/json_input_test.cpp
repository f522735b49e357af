#include "bridge/text/json_input.hpp"

#include <gtest/gtest.h>

namespace ferry::text {
namespace {

std::string refusal(std::string_view input) {
    try {
        parse_json(input);
    } catch (const JsonInputError& e) {
        return e.what();
    }
    return "accepted";
}

TEST(JsonInput, ParsesWhatJsonParses) {
    const auto value =
        parse_json(R"({"a": [1, -2, 3.5, "x\u00e9", true, null, {"b": {}}], "n": 18446744073709551615})");
    EXPECT_EQ(value["a"][3], "x\xC3\xA9");
    EXPECT_EQ(value["a"][2], 3.5);
    EXPECT_EQ(value["n"].get<std::uint64_t>(), 18446744073709551615ULL);
}

TEST(JsonInput, RefusesNestingDeeperThanTheLimit) {
    std::string at_limit(max_json_depth, '[');
    at_limit += std::string(max_json_depth, ']');
    EXPECT_NO_THROW(parse_json(at_limit));
    // 100,000 levels crashed Ferry once (stack overflow): now a reason, found before anything deep is built.
    const std::string deep = "{\"text\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}";
    EXPECT_EQ(refusal(deep), "nested deeper than 128 levels");
}

TEST(JsonInput, RefusesNumbersOutOfRange) {
    EXPECT_EQ(refusal(R"({"text": 1e400})"), "the number 1e400 is out of range");
    EXPECT_EQ(refusal(R"({"text": -1e400})"), "the number -1e400 is out of range");
    const std::string digits(5000, '9');
    const std::string why = refusal("{\"text\": " + digits + "}");
    EXPECT_EQ(why, "the number 999999999999999999999999\u2026(+4976 bytes) is out of range");
    EXPECT_NO_THROW(parse_json(R"({"tiny": 1e-400})")); // underflow is zero, a number all the same
}

TEST(JsonInput, RefusesNulInStringsAndKeys) {
    EXPECT_EQ(refusal(R"({"text": "a\u0000b"})"), "a string holds U+0000, which cannot be stored");
    EXPECT_EQ(refusal(R"({"a\u0000": 1})"), "a key holds U+0000, which cannot be stored");
}

TEST(JsonInput, NulInAServicesAnswerBecomesTheReplacementCharacter) {
    const auto value = parse_json(R"({"a\u0000": "x\u0000y\u0000"})", JsonNul::replace);
    EXPECT_EQ(value.at("a\xEF\xBF\xBD"), "x\xEF\xBF\xBDy\xEF\xBF\xBD");
}

TEST(JsonInput, MalformedJsonIsRefusedWithAShortReason) {
    const std::string huge_token = "{\"text\": 1" + std::string(1'000'000, '2') + "x}";
    const std::string why = refusal(huge_token);
    EXPECT_LT(why.size(), 200u) << why;
    EXPECT_EQ(refusal("{nope").substr(0, 22), "malformed JSON at byte");
    EXPECT_EQ(refusal("").substr(0, 22), "malformed JSON at byte");
    EXPECT_EQ(refusal("\"\xC3\x28\"").substr(0, 22), "malformed JSON at byte"); // invalid UTF-8
}

} // namespace
} // namespace ferry::text
