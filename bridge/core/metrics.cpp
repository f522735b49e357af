#include "bridge/core/metrics.hpp"

#include <sstream>

namespace ferry::core {

namespace {

/// A label value as the text format wants it: backslash, quote and newline escaped.
std::string label_value(const std::string& value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"')
            out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out;
}

void counter(std::ostringstream& out, const char* name, const char* help,
             const std::map<std::string, std::uint64_t>& values) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n";
    for (const auto& [connector, value] : values)
        out << name << "{connector=\"" << label_value(connector) << "\"} " << value << '\n';
}

} // namespace

void Metrics::http_response(std::string_view route, int status) {
    ++http_[status];
    ++http_by_route_[{std::string(route), std::to_string(status / 100) + "xx"}];
}

void Metrics::delivery_latency(double seconds) {
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i])
        ++i;
    ++buckets_[i];
    latency_sum_ += seconds;
    ++latency_count_;
}

std::string Metrics::render(const Gauges& gauges) const {
    std::ostringstream out;
    counter(out, "ferry_messages_in_total", "Messages accepted from a connector (committed to the outbox).",
            in_);
    counter(out, "ferry_messages_out_total", "Messages delivered, by the connector that delivered them.",
            out_);
    counter(out, "ferry_delivery_retries_total", "Delivery attempts that failed and were rescheduled.",
            retries_);
    counter(out, "ferry_dead_letters_total", "Messages given up on (moved to dead_letters) by this process.",
            dead_);
    out << "# HELP ferry_connector_events_total What connectors' families report, by connector and event "
           "(mail: refusals by enhanced status code, delivery reports taken).\n"
           "# TYPE ferry_connector_events_total counter\n";
    for (const auto& [key, value] : events_)
        out << "ferry_connector_events_total{connector=\"" << label_value(key.first) << "\",event=\""
            << label_value(key.second) << "\"} " << value << '\n';
    out << "# HELP ferry_http_requests_total HTTP requests answered, by status code.\n"
           "# TYPE ferry_http_requests_total counter\n";
    for (const auto& [status, value] : http_)
        out << "ferry_http_requests_total{code=\"" << status << "\"} " << value << '\n';
    out << "# HELP ferry_http_responses_total HTTP responses, by route and status class (refusals before a "
           "request was read: route \"none\").\n"
           "# TYPE ferry_http_responses_total counter\n";
    for (const auto& [key, value] : http_by_route_)
        out << "ferry_http_responses_total{route=\"" << label_value(key.first) << "\",class=\"" << key.second
            << "\"} " << value << '\n';
    out << "# HELP ferry_xmpp_stanzas_rejected_total Stanzas from the XMPP server refused or dropped, by "
           "reason "
           "(the error condition answered, or invalid-from).\n"
           "# TYPE ferry_xmpp_stanzas_rejected_total counter\n";
    for (const auto& [reason, value] : gauges.xmpp_rejected)
        out << "ferry_xmpp_stanzas_rejected_total{reason=\"" << label_value(reason) << "\"} " << value
            << '\n';
    out << "# HELP ferry_delivery_latency_seconds Time from enqueue to delivery.\n"
           "# TYPE ferry_delivery_latency_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i];
        out << "ferry_delivery_latency_seconds_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << '\n';
    }
    cumulative += buckets_.back();
    out << "ferry_delivery_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
        << "ferry_delivery_latency_seconds_sum " << latency_sum_ << '\n'
        << "ferry_delivery_latency_seconds_count " << latency_count_ << '\n';
    if (gauges.outbox_depth >= 0)
        out << "# HELP ferry_outbox_depth Messages waiting in the outbox (all processes).\n"
               "# TYPE ferry_outbox_depth gauge\nferry_outbox_depth "
            << gauges.outbox_depth << '\n';
    if (gauges.dead_letters >= 0)
        out << "# HELP ferry_dead_letters Messages in dead_letters (all processes).\n"
               "# TYPE ferry_dead_letters gauge\nferry_dead_letters "
            << gauges.dead_letters << '\n';
    out << "# HELP ferry_xmpp_connected 1 while the component stream is established.\n"
           "# TYPE ferry_xmpp_connected gauge\nferry_xmpp_connected "
        << (gauges.xmpp_connected ? 1 : 0) << '\n';
    return out.str();
}

} // namespace ferry::core
