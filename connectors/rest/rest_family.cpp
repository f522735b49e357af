#include "connectors/rest/rest_family.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/store/message_map.hpp"
#include "connectors/rest/preset.hpp"
#include "connectors/rest/rest_connector.hpp"
#include "connectors/rest/sender_names.hpp"
#include "connectors/rest/service_reading.hpp"
#include "connectors/rest/update_poller.hpp"

namespace ferry::connectors::rest {

namespace {

class RunningRest final : public core::RunningFamily {
public:
    explicit RunningRest(const core::FamilyContext& context)
        : context_(context), names_(context.http, context.logger),
          poller_(context.executor, context.store, context.inlet, names_, context.pool, context.owner,
                  context.http, context.logger) {}

    std::unique_ptr<core::Connector> make_connector(const store::Connector& row) override {
        const Preset* preset = find_preset(row.kind);
        if (preset == nullptr || !preset->send)
            return nullptr;
        // Corrections, replies and retractions name a message by its XMPP id: message_map gives the
        // service's.
        auto lookup = [&pool = context_.pool, id = row.id](const std::string& conversation,
                                                           const std::string& source_id,
                                                           const std::string& author, bool thread_root) {
            return store::message_map::service_counterpart(pool, id, conversation, source_id, author,
                                                           thread_root);
        };
        return std::make_unique<RestConnector>(*preset, row.settings, context_.http, std::move(lookup));
    }

    core::HookReading read_hook(const core::HookCall& call) override {
        core::HookReading reading;
        const Preset* preset = find_preset(call.connector.kind);
        if (preset == nullptr || !preset->receive) {
            reading.answer_now = http::json_error(404, "no webhook named \"" + call.connector.name + "\"");
            return reading;
        }
        ServiceReading read =
            read_service_request(*preset->receive, call.snapshot, call.connector, call.request, call.subpath,
                                 std::chrono::system_clock::now(), context_.logger);
        if (read.answer_now) {
            if (read.answer_now->status >= 400)
                context_.logger.warning("webhook " + call.connector.name + ": refused a request from " +
                                        call.request.remote + ": " + read.answer_now->body);
            else if (!read.summary.empty())
                context_.logger.info("webhook " + call.connector.name + ": " + read.summary);
            reading.answer_now = std::move(read.answer_now);
            return reading;
        }
        reading.arrival =
            core::Arrival{std::move(read.entries), std::move(read.source), std::move(read.summary), &names_};
        reading.on_commit = read.answer_after_commit;
        reading.on_duplicate = std::move(read.answer_after_commit);
        return reading;
    }

    boost::asio::awaitable<void> run_sources() override { co_await poller_.run(); }
    void stop() override { poller_.stop(); }

private:
    const core::FamilyContext& context_;
    SenderNames names_;
    UpdatePoller poller_; ///< long polling (Telegram getUpdates) for connectors that ask for it
};

std::vector<core::KindSpec> preset_kinds() {
    std::vector<core::KindSpec> kinds;
    for (const Preset& preset : builtin_presets()) {
        core::KindSpec kind{preset.kind,
                            preset.title,
                            preset.settings,
                            preset.receive.has_value(),
                            preset.send.has_value(),
                            {},
                            {},
                            {}};
        const auto& common = common_settings();
        kind.settings.insert(kind.settings.end(), common.begin(), common.end());
        kind.check_settings = [&preset](const nlohmann::json& settings) { check_settings(preset, settings); };
        kind.check_mapping = [&preset](std::string_view /*xmpp*/, std::string_view direction,
                                       std::string_view /*remote*/) {
            if (!preset.receive && direction != "out")
                throw std::invalid_argument("a " + preset.kind +
                                            " connector only sends messages: use --direction out");
            if (!preset.send && direction != "in")
                throw std::invalid_argument("a " + preset.kind +
                                            " connector only receives messages: use --direction in");
        };
        kinds.push_back(std::move(kind));
    }
    return kinds;
}

} // namespace

const std::vector<core::KindSpec>& RestFamily::kinds() const {
    static const std::vector<core::KindSpec> kinds = preset_kinds();
    return kinds;
}

std::unique_ptr<core::RunningFamily> RestFamily::start(const core::FamilyContext& context) const {
    return std::make_unique<RunningRest>(context);
}

} // namespace ferry::connectors::rest
