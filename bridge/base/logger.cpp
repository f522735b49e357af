#include "bridge/base/logger.hpp"

#include "bridge/text/log_text.hpp"

#include <boost/system/system_error.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <system_error>

namespace ferry::core {

namespace {
constexpr std::size_t max_line_bytes = 8192;
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
    if (name == "debug")
        return LogLevel::debug;
    if (name == "info")
        return LogLevel::info;
    if (name == "warning" || name == "warn")
        return LogLevel::warning;
    if (name == "error")
        return LogLevel::error;
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warning:
        return "warning";
    case LogLevel::error:
        return "error";
    }
    return "info";
}

Logger::Logger(LogLevel level, std::string path) : level_(level), path_(std::move(path)) {
    reopen();
}

void Logger::reopen() {
    if (path_.empty())
        return;
    if (file_.is_open())
        file_.close();
    file_.open(path_, std::ios::app);
    if (!file_)
        std::cerr << "ferry: cannot open log file " << path_ << ", logging to stderr\n";
}

void Logger::log(LogLevel level, std::string_view text) {
    if (!enabled(level))
        return;
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    std::ostream& out = file_.is_open() ? static_cast<std::ostream&>(file_) : std::cerr;
    // One event, one line: whatever a message quotes from outside cannot forge another line, and no line is
    // longer than a person reads.
    out << stamp << ' ' << log_level_name(level) << ' ' << ferry::text::shortened(text, max_line_bytes)
        << '\n';
    out.flush();
}

std::string error_text(const std::exception& error) {
    if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) {
        // Boost writes "<context>: " + code.what(), and code.what() ends with "[<code> at <file:line> …]".
        const boost::system::error_code& code = system->code();
        std::string context = system->what();
        const std::string detail = code.what();
        if (context.ends_with(detail))
            context.resize(context.size() - detail.size());
        while (!context.empty() && (context.back() == ' ' || context.back() == ':'))
            context.pop_back();
        return (context.empty() ? "" : context + ": ") + code.message() + " (" + code.category().name() +
               ":" + std::to_string(code.value()) + ")";
    }
    return error.what(); // std::system_error says "context: message", without a source location
}

} // namespace ferry::core
