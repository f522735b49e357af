#pragma once

#include <functional>
#include <utility>

namespace ferry::pg {

/// Runs an action when the scope ends, unless dismissed.
class OnExit {
public:
    explicit OnExit(std::function<void()> action) : action_(std::move(action)) {}
    ~OnExit() {
        if (action_)
            action_();
    }
    OnExit(const OnExit&) = delete;
    OnExit& operator=(const OnExit&) = delete;
    void dismiss() { action_ = nullptr; }

private:
    std::function<void()> action_;
};

} // namespace ferry::pg
