#include "bridge/core/hooks.hpp"

#include "bridge/core/family.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/core/running_families.hpp"
#include "bridge/store/mapping_store.hpp"
#include "bridge/text/log_text.hpp"

#include <nlohmann/json.hpp>

namespace ferry::core {

namespace asio = boost::asio;
using http::json_error;
using http::Response;

Hooks::Hooks(const store::MappingStore& store, RunningFamilies& families, Inlet& inlet, Logger& logger)
    : store_(store), families_(families), inlet_(inlet), logger_(logger) {}

asio::awaitable<Response> Hooks::handle(const http::Request& request, std::string_view hook,
                                        std::string_view subpath) {
    const auto snapshot = store_.snapshot();
    const store::Connector* connector = snapshot->connector(hook);
    const KindSpec* kind = connector == nullptr ? nullptr : families_.kind(connector->kind);
    RunningFamily* family = connector == nullptr ? nullptr : families_.of_kind(connector->kind);
    if (kind == nullptr || !kind->receives || family == nullptr)
        co_return json_error(404, "no webhook named \"" + std::string(hook) + "\"");
    if (!connector->enabled)
        co_return json_error(404, "webhook \"" + connector->name + "\" is disabled");
    HookReading reading;
    try {
        reading = family->read_hook(HookCall{*snapshot, *connector, *kind, request, subpath});
    } catch (const nlohmann::json::exception& e) {
        // A value of another type than the payload's documentation gives it.
        co_return json_error(400, "the body does not have the expected shape: " + text::shortened(e.what()));
    }
    if (reading.answer_now)
        co_return std::move(*reading.answer_now);
    switch (co_await inlet_.take(*connector, "webhook", std::move(reading.arrival))) {
    case InletOutcome::committed:
        co_return std::move(reading.on_commit);
    case InletOutcome::duplicate:
        co_return std::move(reading.on_duplicate);
    case InletOutcome::store_slow:
        break;
    }
    // It stays queued and is committed once PostgreSQL answers; a resend is then recognised.
    Response busy = json_error(503, "the store did not commit in time; send again later");
    busy.headers.emplace_back("Retry-After", "5");
    co_return busy;
}

} // namespace ferry::core
