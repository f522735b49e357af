#include "bridge/core/message.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace ferry::core {

std::string xmpp_author(const Message& m) {
    if (m.source != "xmpp")
        return {};
    if (!m.sender_name.empty())
        return m.from; // room/nick
    return m.from.substr(0, m.from.find('/'));
}

nlohmann::json to_json(const Message& m) {
    nlohmann::json json = {{"kind", m.kind}, {"source", m.source}, {"from", m.from},
                           {"to", m.to},     {"text", m.text},     {"timestamp", m.timestamp}};
    if (!m.source_id.empty())
        json["source_id"] = m.source_id;
    if (!m.sender_name.empty())
        json["sender_name"] = m.sender_name;
    if (!m.subject.empty())
        json["subject"] = m.subject;
    if (!m.thread.empty())
        json["thread"] = m.thread;
    if (!m.refers_to.empty())
        json["refers_to"] = m.refers_to;
    if (!m.channel.empty())
        json["channel"] = m.channel;
    if (!m.room_id.empty())
        json["room_id"] = m.room_id;
    if (!m.firing.empty())
        json["firing"] = m.firing;
    if (!m.resolved.empty())
        json["resolved"] = m.resolved;
    if (!m.resolution.empty())
        json["resolution"] = m.resolution;
    return json;
}

Message message_from_json(const nlohmann::json& json) {
    Message m;
    const auto read = [&](const char* key, std::string& field) {
        if (const auto it = json.find(key); it != json.end())
            field = it->get<std::string>();
    };
    read("kind", m.kind);
    read("source", m.source);
    read("source_id", m.source_id);
    read("from", m.from);
    read("sender_name", m.sender_name);
    read("to", m.to);
    read("text", m.text);
    read("subject", m.subject);
    read("thread", m.thread);
    read("refers_to", m.refers_to);
    read("channel", m.channel);
    read("room_id", m.room_id);
    read("firing", m.firing);
    read("resolved", m.resolved);
    read("resolution", m.resolution);
    read("timestamp", m.timestamp);
    return m;
}

std::string utc_timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    return text;
}

} // namespace ferry::core
