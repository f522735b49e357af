#include "bridge/base/backoff.hpp"

#include <gtest/gtest.h>

namespace ferry::core {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesWithJitterUpToTheCap) {
    Backoff backoff(milliseconds(100), milliseconds(1000), 7);
    const milliseconds ceilings[] = {milliseconds(100), milliseconds(200),  milliseconds(400),
                                     milliseconds(800), milliseconds(1000), milliseconds(1000),
                                     milliseconds(1000)};
    for (const auto ceiling : ceilings) {
        const auto delay = backoff.next();
        EXPECT_GE(delay, ceiling / 2);
        EXPECT_LE(delay, ceiling);
    }
    EXPECT_EQ(backoff.attempts(), 7);
}

TEST(Backoff, ResetStartsAgainAtTheMinimum) {
    Backoff backoff(milliseconds(100), milliseconds(10000), 1);
    for (int i = 0; i < 10; ++i)
        backoff.next();
    backoff.reset();
    EXPECT_LE(backoff.next(), milliseconds(100));
}

TEST(Backoff, JitterSpreadsRetries) {
    Backoff a(milliseconds(1000), milliseconds(1000), 1);
    Backoff b(milliseconds(1000), milliseconds(1000), 2);
    int different = 0;
    for (int i = 0; i < 20; ++i)
        different += a.next() != b.next();
    EXPECT_GT(different, 10);
}

} // namespace
} // namespace ferry::core
