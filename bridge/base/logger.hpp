#pragma once

#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::core {

enum class LogLevel { debug, info, warning, error };

/// Parses "debug", "info", "warning" (or "warn"), "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

/// Writes one line per event, with a UTC timestamp and the level, to stderr or to a file. Control characters
/// in the text are written as visible escapes and a text over 8 KiB is cut, so each event is one line and no
/// value quoted from outside can forge another.
/// Not thread-safe by design: Ferry runs one io_context on one thread.
class Logger {
public:
    /// An empty path logs to stderr.
    explicit Logger(LogLevel level, std::string path = {});
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    bool enabled(LogLevel level) const { return level >= level_; }
    void set_level(LogLevel level) { level_ = level; }
    void log(LogLevel level, std::string_view text);
    void debug(std::string_view text) { log(LogLevel::debug, text); }
    void info(std::string_view text) { log(LogLevel::info, text); }
    void warning(std::string_view text) { log(LogLevel::warning, text); }
    void error(std::string_view text) { log(LogLevel::error, text); }

    /// Closes and reopens the log file (after logrotate moved it away); no-op for stderr.
    void reopen();

private:
    LogLevel level_;
    std::string path_;
    std::ofstream file_;
};

/// What went wrong, for a log line: what() of most exceptions, but for a system error its message and code
/// ("Connection refused (system:111)") without the source location Boost's what() appends.
std::string error_text(const std::exception& error);

} // namespace ferry::core
