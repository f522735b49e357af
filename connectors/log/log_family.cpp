#include "connectors/log/log_family.hpp"

#include "bridge/store/mapping.hpp"
#include "connectors/log/log_connector.hpp"

#include <nlohmann/json.hpp>

namespace ferry::connectors::log {

namespace {

class RunningLog final : public core::RunningFamily {
public:
    std::unique_ptr<core::Connector> make_connector(const store::Connector& row) override {
        const std::string path = store::text_setting(row.settings, "path");
        if (path.empty())
            throw std::invalid_argument("the log connector needs a `path` setting");
        return std::make_unique<LogConnector>(path);
    }
};

} // namespace

const std::vector<core::KindSpec>& LogFamily::kinds() const {
    static const std::vector<core::KindSpec> kinds = [] {
        core::KindSpec kind{"log",
                            "writes each message as one JSON line to a file",
                            {{"path", true, false, "", "absolute file name"}},
                            false,
                            true,
                            {},
                            {},
                            {}};
        kind.check_settings = [](const nlohmann::json& settings) {
            if (!store::text_setting(settings, "path").starts_with("/"))
                throw std::invalid_argument(
                    "the path setting of a log connector must be an absolute file name");
        };
        return std::vector<core::KindSpec>{std::move(kind)};
    }();
    return kinds;
}

std::unique_ptr<core::RunningFamily> LogFamily::start(const core::FamilyContext& /*context*/) const {
    return std::make_unique<RunningLog>();
}

} // namespace ferry::connectors::log
