#include "connectors/rest/update_poller.hpp"

#include "bridge/base/backoff.hpp"
#include "bridge/base/logger.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/core/source_lease.hpp"
#include "bridge/http/client.hpp"
#include "bridge/pg/error.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/text/json_input.hpp"
#include "bridge/text/log_text.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/service_reading.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

namespace ferry::connectors::rest {

using namespace core; // the core's outbox, inlet and leases, spoken throughout

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

std::string setting(const store::Connector& connector, std::string_view name) {
    return store::text_setting(connector.settings, name);
}

/// The preset's poll section when `connector` is enabled and has polling turned on; null otherwise.
const Preset* polling_preset(const store::Connector* connector) {
    if (connector == nullptr || !connector->enabled)
        return nullptr;
    const Preset* preset = find_preset(connector->kind);
    if (preset == nullptr || !preset->receive || !preset->receive->poll)
        return nullptr;
    return setting(*connector, preset->receive->poll->enabled_by) == "yes" ? preset : nullptr;
}

std::string failure_text(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return error_text(e);
    } catch (...) {
        return "an unknown exception";
    }
}

/// The cursor a holder saved: nothing for a source never fetched (or a value this version cannot read, which
/// makes the service hand out what it still keeps; the outbox recognises what was committed before).
std::optional<long long> saved_cursor(std::string_view progress) {
    long long cursor = 0;
    const auto [end, error] = std::from_chars(progress.data(), progress.data() + progress.size(), cursor);
    if (progress.empty() || error != std::errc() || end != progress.data() + progress.size())
        return std::nullopt;
    return cursor;
}

/// The poll request of `preset` for `connector` from `offset`; nullopt (and why) when its templates fail.
std::optional<http::ClientRequest> poll_request(const Preset& preset, const store::Connector& connector,
                                                std::optional<long long> offset, std::string& problem) {
    const PollSpec& spec = *preset.receive->poll;
    const json context = {{"settings", preset.with_defaults(connector.settings)},
                          {"offset", offset ? json(*offset) : json(nullptr)},
                          {"wait", spec.wait_s}};
    http::ClientRequest request;
    try {
        request.method = spec.method;
        request.url = formats::Template(spec.url).render(context);
        request.body = render_json(spec.body, context, formats::Escape::plain).dump();
    } catch (const std::exception& e) {
        problem = e.what();
        return std::nullopt;
    }
    request.headers.emplace_back("Content-Type", "application/json");
    request.timeout = std::chrono::seconds(spec.wait_s + 15);
    request.allow_private = setting(connector, "allow_private") == "yes";
    return request;
}

/// The results array of a successful poll answer; nullopt (and why, with the service's own error text when
/// it gives one) otherwise.
std::optional<json> poll_results(const http::ClientResponse& response, const PollSpec& spec,
                                 std::string& problem) {
    if (response.status == 200) {
        try {
            json body = text::parse_json(response.body, text::JsonNul::replace);
            bool ok = true;
            for (const auto& [pointer, wanted] : spec.ok_when.items())
                ok = ok && body.at(json::json_pointer(pointer)) == wanted;
            if (ok && body.at(json::json_pointer(spec.results)).is_array())
                return std::move(body.at(json::json_pointer(spec.results)));
        } catch (const std::invalid_argument&) { // malformed or unreasonable JSON, or another shape
        }
    }
    problem = response.status == 0 ? response.error : "HTTP " + std::to_string(response.status);
    try {
        if (!spec.error_at.empty())
            problem += ": " + text::quoted(text::parse_json(response.body, text::JsonNul::replace)
                                               .at(json::json_pointer(spec.error_at))
                                               .get<std::string>());
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

} // namespace

UpdatePoller::UpdatePoller(asio::any_io_executor executor, const store::MappingStore& store, Inlet& inlet,
                           SenderNaming& names, pg::Pool& pool, std::string owner, http::Client& client,
                           Logger& logger)
    : executor_(executor), store_(store), inlet_(inlet), names_(names), pool_(pool), owner_(std::move(owner)),
      client_(client), logger_(logger), tick_(executor) {}

asio::awaitable<void> UpdatePoller::run() {
    while (!stopping_) {
        const auto snapshot = store_.snapshot();
        for (const store::Connector& connector : snapshot->connectors()) {
            if (polling_preset(&connector) == nullptr || running_.contains(connector.id))
                continue;
            auto& signal = running_[connector.id];
            signal = std::make_unique<asio::cancellation_signal>();
            asio::co_spawn(executor_, poll(connector.id),
                           asio::bind_cancellation_slot(
                               signal->slot(), [this, id = connector.id](const std::exception_ptr& e) {
                                   if (e)
                                       logger_.error("poller: the loop of connector " + std::to_string(id) +
                                                     " failed: " + failure_text(e));
                                   running_.erase(id);
                                   if (stopping_ && running_.empty())
                                       tick_.cancel();
                               }));
        }
        tick_.expires_after(std::chrono::seconds(2));
        co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    while (!running_.empty()) {
        tick_.expires_after(std::chrono::seconds(1));
        co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void UpdatePoller::stop() {
    stopping_ = true;
    tick_.cancel();
    for (auto& [id, signal] : running_)
        signal->emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> UpdatePoller::poll(std::int64_t connector_id) {
    SourceLease lease(pool_, "poll:" + std::to_string(connector_id), owner_, logger_);
    const auto wanted = [this, connector_id] {
        return !stopping_ && polling_preset(store_.snapshot()->connector(connector_id)) != nullptr;
    };
    co_await lease.run(wanted,
                       [&](std::string progress) { return fetch(connector_id, std::move(progress), lease); });
    const store::Connector* connector = store_.snapshot()->connector(connector_id);
    logger_.info("poller " + (connector != nullptr ? connector->name : std::to_string(connector_id)) +
                 ": stopped");
}

asio::awaitable<void> UpdatePoller::fetch(std::int64_t connector_id, std::string progress,
                                          SourceLease& lease) {
    Backoff backoff(std::chrono::seconds(1), std::chrono::seconds(60));
    asio::steady_timer pause(executor_);
    std::optional<long long> offset = saved_cursor(progress);
    const auto rest_after_failure = [&]() -> asio::awaitable<void> {
        pause.expires_after(backoff.next());
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    };
    while (!stopping_) {
        const auto snapshot = store_.snapshot();
        const store::Connector* connector = snapshot->connector(connector_id);
        const Preset* preset = polling_preset(connector);
        if (preset == nullptr)
            break; // removed, disabled, or polling turned off
        const std::string& name = connector->name;
        std::string problem;
        std::optional<http::ClientRequest> request = poll_request(*preset, *connector, offset, problem);
        if (!request) {
            logger_.error("poller " + name + ": cannot build the request: " += problem);
            co_await rest_after_failure();
            continue;
        }
        const http::ClientResponse response = co_await client_.perform(std::move(*request));
        if (stopping_ ||
            (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
            break;
        const std::optional<json> results = poll_results(response, *preset->receive->poll, problem);
        if (!results) {
            logger_.warning("poller " + name + ": " += problem);
            co_await rest_after_failure();
            continue;
        }
        backoff.reset();
        std::optional<long long> next = offset;
        const bool committed = co_await take_results(*snapshot, *connector, *preset, *results, next);
        if (next != offset) {
            try { // a cursor not saved costs a second fetch of what it covers, which the outbox recognises
                co_await lease.save_progress(std::to_string(*next));
            } catch (const pg::Error& e) {
                logger_.warning("poller " + name + ": cannot save the cursor: " + e.what());
            }
        }
        offset = next;
        if (!committed)
            co_await rest_after_failure();
    }
}

asio::awaitable<bool> UpdatePoller::take_results(const store::MappingSnapshot& snapshot,
                                                 const store::Connector& connector, const Preset& preset,
                                                 const json& results, std::optional<long long>& next) {
    const ReceiveSpec& receive = *preset.receive;
    for (const json& result : results) {
        long long cursor = 0;
        try {
            cursor = result.at(json::json_pointer(receive.poll->cursor)).get<long long>();
        } catch (const json::exception&) {
            logger_.warning("poller " + connector.name + ": a result without a number at " +
                            receive.poll->cursor + " is skipped");
            continue;
        }
        ServiceReading read =
            messages_from(receive, snapshot, connector, result, std::to_string(cursor), logger_);
        if (!read.entries.empty()) {
            std::string failure;
            Arrival arrival{std::move(read.entries), std::move(read.source), std::move(read.summary),
                            &names_};
            try {
                const InletOutcome outcome = co_await inlet_.take(connector, "poller", std::move(arrival));
                if (outcome == InletOutcome::store_slow)
                    failure = "the store did not commit in time";
            } catch (const std::exception& e) {
                failure = error_text(e);
            }
            if (!failure.empty()) {
                // Not confirmed: the service hands it out again on the next poll.
                logger_.warning("poller " + connector.name + ": cannot store update " +
                                    std::to_string(cursor) + ", fetching it again later: " += failure);
                co_return false;
            }
        }
        next = std::max(next.value_or(cursor + 1), cursor + 1);
    }
    co_return true;
}

} // namespace ferry::connectors::rest
