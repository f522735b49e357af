#include "bridge/core/running_families.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>

namespace ferry::core {

namespace asio = boost::asio;

RunningFamilies::RunningFamilies(const FamilyList& families, const FamilyContext& context)
    : families_(families) {
    for (const Family* family : families.families())
        running_.emplace_back(family, family->start(context));
}

RunningFamily* RunningFamilies::of_kind(std::string_view name) {
    const Family* family = families_.family_of(name);
    for (auto& [offered_by, running] : running_)
        if (offered_by == family)
            return running.get();
    return nullptr;
}

asio::awaitable<void> RunningFamilies::run_sources() {
    const auto executor = co_await asio::this_coro::executor;
    using Operation =
        decltype(asio::co_spawn(executor, running_.front().second->run_sources(), asio::deferred));
    std::vector<Operation> operations;
    for (auto& entry : running_)
        operations.push_back(asio::co_spawn(executor, entry.second->run_sources(), asio::deferred));
    if (operations.empty())
        co_return;
    auto [order, failures] = co_await asio::experimental::make_parallel_group(std::move(operations))
                                 .async_wait(asio::experimental::wait_for_all(), asio::deferred);
    for (const std::exception_ptr& failure : failures)
        if (failure)
            std::rethrow_exception(failure);
}

void RunningFamilies::stop() {
    for (auto& entry : running_)
        entry.second->stop();
}

bool RunningFamilies::handle_stanza(const xmpp::InboundStanza& stanza) {
    for (auto& entry : running_)
        if (entry.second->handle_stanza(stanza))
            return true;
    return false;
}

} // namespace ferry::core
