#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace ferry::core {

/// Exponential backoff with jitter: the n-th delay is drawn uniformly from [d/2, d] where
/// d = min(max_delay, min_delay * 2^n), so retrying peers spread out instead of arriving together.
class Backoff {
public:
    using Duration = std::chrono::milliseconds;

    Backoff(Duration min_delay, Duration max_delay, std::uint64_t seed = std::random_device{}());

    /// The delay before the next attempt; each call doubles the ceiling until max_delay.
    Duration next();
    /// Back to min_delay after a success.
    void reset() { attempt_ = 0; }
    int attempts() const { return attempt_; }

private:
    Duration min_delay_;
    Duration max_delay_;
    int attempt_ = 0;
    std::mt19937_64 random_;
};

} // namespace ferry::core
