#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

struct pg_result;

namespace ferry::pg {

/// A failure reported by PostgreSQL or libpq. sqlstate() is the five-character SQLSTATE the server sent
/// ("23505" unique violation, "42P01" undefined table), or empty for failures found on the client side.
/// Messages never contain the connection string or its password.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, std::string sqlstate = {});
    const std::string& sqlstate() const { return sqlstate_; }

private:
    std::string sqlstate_;
};

/// The connection is gone (server stopped or restarted, network cut, protocol failure): it cannot be used
/// again and a statement in flight may or may not have been applied. Retrying on another connection is the
/// caller's decision; Pool hands out a fresh one.
class ConnectionLost : public Error {
public:
    using Error::Error;
};

/// A call did not finish within its timeout. The connection was dropped (see Connection), hence a
/// ConnectionLost: the statement may still have been applied.
class Timeout : public ConnectionLost {
public:
    using ConnectionLost::ConnectionLost;
};

/// True for SQLSTATEs that mean the session is over: class 08 (connection exception) and 57P01..57P03
/// (administrator shutdown, crash shutdown, cannot connect now).
bool is_connection_sqlstate(std::string_view sqlstate);

/// libpq's message on one line (newlines and runs of blanks become one space); "unknown libpq error" when
/// it is empty.
std::string tidy_message(const char* message);

/// Throws the exception an error result stands for: ConnectionLost when `connection_bad` or its SQLSTATE
/// says the session is over, Error otherwise. The message carries the primary text, and the detail if any.
[[noreturn]] void throw_result_error(const pg_result* result, bool connection_bad);

} // namespace ferry::pg
