#include "bridge/base/backoff.hpp"

#include <algorithm>

namespace ferry::core {

Backoff::Backoff(Duration min_delay, Duration max_delay, std::uint64_t seed)
    : min_delay_(std::max(min_delay, Duration(1))), max_delay_(std::max(max_delay, min_delay_)),
      random_(seed) {}

Backoff::Duration Backoff::next() {
    Duration ceiling = min_delay_;
    for (int i = 0; i < attempt_ && ceiling < max_delay_; ++i)
        ceiling *= 2;
    ceiling = std::min(ceiling, max_delay_);
    ++attempt_;
    std::uniform_int_distribution<Duration::rep> jitter(ceiling.count() / 2, ceiling.count());
    return Duration(jitter(random_));
}

} // namespace ferry::core
