#include "bridge/base/logger.hpp"
#include "bridge/text/log_text.hpp"

#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace ferry::text {
namespace {

TEST(LogText, ControlCharactersBecomeVisibleEscapes) {
    EXPECT_EQ(log_safe("a\nb\rc\td\x1b[31me\x7f"), "a\\nb\\rc\\td\\x1b[31me\\x7f");
    EXPECT_EQ(log_safe("next\xC2\x85line"), "next\\u0085line"); // C1 NEL
    EXPECT_EQ(log_safe("caf\xC3\xA9 \xE2\x9C\x93"), "caf\xC3\xA9 \xE2\x9C\x93");
    EXPECT_EQ(log_safe("bad\xFF\xC3"), "bad\\xff\\xc3");
}

TEST(LogText, OutsideValuesAreQuotedAndShortened) {
    EXPECT_EQ(quoted("group\n2026-12-07T00:00:00.000Z error forged"),
              "\"group\\n2026-12-07T00:00:00.000Z error forged\"");
    const std::string million(1'000'000, '7');
    EXPECT_EQ(quoted(million, 10), "\"7777777777\u2026(+999990 bytes)\"");
    // Never in the middle of a character.
    EXPECT_EQ(shortened("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9\u2026(+2 bytes)");
}

TEST(Logger, EveryEventIsOneLineWhateverItQuotes) {
    const auto path =
        std::filesystem::temp_directory_path() / ("ferry-log-test-" + std::to_string(::getpid()));
    {
        core::Logger logger(core::LogLevel::info, path.string());
        logger.warning(
            "webhook alerts: group {}:{alertname=\"x\n2026-01-01T00:00:00.000Z error fake\x1b[2J\"}");
        logger.info(std::string(100'000, 'x'));
    }
    std::ifstream in(path);
    std::string first, second, third;
    std::getline(in, first);
    std::getline(in, second);
    EXPECT_FALSE(std::getline(in, third)) << "a third line: " << third;
    std::filesystem::remove(path);
    EXPECT_NE(first.find("x\\n2026-01-01T00:00:00.000Z error fake\\x1b[2J"), std::string::npos) << first;
    EXPECT_LT(second.size(), 8300u);
    EXPECT_NE(second.find("(+91808 bytes)"), std::string::npos) << second.substr(8100);
}

TEST(Logger, ASystemErrorIsItsMessageAndCodeWithoutTheSourceLocation) {
    static constexpr boost::source_location here = BOOST_CURRENT_LOCATION; // as Asio's errors carry one
    const boost::system::system_error refused(
        boost::system::error_code(ECONNREFUSED, boost::system::system_category(), &here), "connect");
    EXPECT_NE(std::string(refused.what()).find(" at "), std::string::npos) << "Boost's what() has a location";
    EXPECT_EQ(core::error_text(refused), "connect: Connection refused (system:111)");
    EXPECT_EQ(core::error_text(std::runtime_error("plain")), "plain");
}

} // namespace
} // namespace ferry::text
