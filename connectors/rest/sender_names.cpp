#include "connectors/rest/sender_names.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/http/client.hpp"
#include "bridge/store/mapping.hpp"
#include "bridge/text/json_input.hpp"
#include "connectors/formats/template.hpp"
#include "connectors/rest/preset.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace ferry::connectors::rest {

using namespace core; // the core's outbox, inlet and leases, spoken throughout

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::chrono::hours name_kept{1};
constexpr std::chrono::minutes failure_kept{1}; // a service that fails is not asked again for every message
constexpr std::chrono::milliseconds lookup_limit{1500}; // Slack wants an answer to its events within 3 s
constexpr std::size_t lookups_per_request = 4;
constexpr std::size_t most_kept = 10000;

} // namespace

SenderNames::SenderNames(http::Client& client, Logger& logger) : client_(client), logger_(logger) {}

asio::awaitable<void> SenderNames::complete(const store::Connector& connector,
                                            std::vector<OutboxEntry>& entries) {
    const Preset* found = find_preset(connector.kind);
    if (found == nullptr || !found->receive || !found->receive->profile)
        co_return;
    const Preset& preset = *found;
    std::map<std::string, std::string> names;
    std::set<std::string> unknown;
    const auto now = std::chrono::steady_clock::now();
    for (const OutboxEntry& entry : entries) {
        const std::string sender = entry.payload.value("from", "");
        if (sender.empty() || !entry.payload.value("sender_name", "").empty() || names.contains(sender))
            continue;
        if (const auto found = known_.find({connector.id, sender});
            found != known_.end() && found->second.until > now)
            names[sender] = found->second.name;
        else
            unknown.insert(sender);
    }
    std::size_t asked = 0;
    for (const std::string& sender : unknown) {
        if (asked++ == lookups_per_request)
            break; // the rest keep their ids this time; the next message asks
        names[sender] = co_await name_of(preset, connector, sender);
    }
    for (OutboxEntry& entry : entries) {
        const auto found = names.find(entry.payload.value("from", ""));
        if (found != names.end() && !found->second.empty() && entry.payload.value("sender_name", "").empty())
            entry.payload["sender_name"] = found->second;
    }
}

asio::awaitable<std::string> SenderNames::name_of(const Preset& preset, const store::Connector& connector,
                                                  const std::string& sender) {
    const ProfileSpec& spec = *preset.receive->profile;
    const json context = {{"settings", preset.with_defaults(connector.settings)}, {"sender", sender}};
    http::ClientRequest request;
    request.method = spec.method;
    request.timeout = lookup_limit;
    request.allow_private = store::text_setting(connector.settings, "allow_private") == "yes";
    std::string name;
    bool answered = false;
    try {
        request.url = formats::Template(spec.url).render(context);
        const json headers = render_json(spec.headers, context, formats::Escape::plain);
        for (const auto& [header, value] : headers.items())
            request.headers.emplace_back(header, value.is_string() ? value.get<std::string>() : value.dump());
    } catch (const std::exception& e) {
        logger_.warning("names " + connector.name + ": cannot build the profile request: " + e.what());
        co_return name;
    }
    const http::ClientResponse response = co_await client_.perform(std::move(request));
    if (response.status == 200) {
        try {
            const json body = text::parse_json(response.body, text::JsonNul::replace);
            answered = true;
            for (const auto& [pointer, wanted] : spec.ok_when.items())
                answered = answered && body.at(json::json_pointer(pointer)) == wanted;
            for (std::size_t i = 0; answered && name.empty() && i < spec.name.size(); ++i) {
                const json::json_pointer pointer(spec.name[i]);
                if (body.contains(pointer) && body.at(pointer).is_string())
                    name = body.at(pointer).get<std::string>();
            }
        } catch (const json::exception&) {
            answered = false;
        }
    }
    const auto before = known_.find({connector.id, sender});
    if (!answered && before != known_.end() && !before->second.name.empty()) {
        // Keep the name it had: a nick that flips to the id and back makes another occupant in rooms.
        before->second.until = std::chrono::steady_clock::now() + failure_kept;
        co_return before->second.name;
    }
    if (!answered)
        logger_.info("names " + connector.name + ": no profile of " + sender + " (" +
                     (response.status == 0 ? response.error : "HTTP " + std::to_string(response.status)) +
                     "); it shows as its id");
    if (known_.size() >= most_kept)
        known_.clear();
    const std::chrono::steady_clock::duration kept = answered
                                                         ? std::chrono::steady_clock::duration(name_kept)
                                                         : std::chrono::steady_clock::duration(failure_kept);
    known_[{connector.id, sender}] = Known{name, std::chrono::steady_clock::now() + kept};
    co_return name;
}

} // namespace ferry::connectors::rest
