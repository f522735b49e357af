#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::core {

/// Ferry's counters for GET /metrics (Prometheus text format 0.0.4). One instance per process, owned by
/// whoever wires the store; everything runs on the io_context's thread, so plain integers suffice.
class Metrics {
public:
    void message_in(const std::string& connector) { ++in_[connector]; }
    void message_out(const std::string& connector) { ++out_[connector]; }
    void retry(const std::string& connector) { ++retries_[connector]; }
    void dead_letter(const std::string& connector) { ++dead_[connector]; }
    /// Something a family reports about one of its connectors (a refusal with its status, a delivery
    /// report taken): ferry_connector_events_total{connector, event}.
    void connector_event(const std::string& connector, const std::string& event) {
        ++events_[{connector, event}];
    }
    /// A response sent over HTTP; `route` is the route's name (HttpApi::route_name).
    void http_response(std::string_view route, int status);
    /// Seconds from enqueue to delivery of one message.
    void delivery_latency(double seconds);

    /// Values read at scrape time (queue depth, stream state).
    struct Gauges {
        long outbox_depth = -1; ///< -1: unknown (the database did not answer)
        long dead_letters = -1;
        bool xmpp_connected = false;
        /// Stanzas from the XMPP server rejected so far, by reason (StanzaDispatcher::rejected).
        std::map<std::string, std::uint64_t, std::less<>> xmpp_rejected;
    };
    std::string render(const Gauges& gauges) const;

private:
    static constexpr std::array<double, 12> bounds_ = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    5,     30};
    std::map<std::string, std::uint64_t> in_, out_, retries_, dead_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> events_; ///< (connector, event) → count
    std::map<int, std::uint64_t> http_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> http_by_route_; ///< (route, "4xx") → count
    std::array<std::uint64_t, bounds_.size() + 1> buckets_{};
    double latency_sum_ = 0;
    std::uint64_t latency_count_ = 0;
};

} // namespace ferry::core
