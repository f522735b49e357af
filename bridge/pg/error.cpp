#include "bridge/pg/error.hpp"

#include <libpq-fe.h>

namespace ferry::pg {

Error::Error(const std::string& message, std::string sqlstate)
    : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}

bool is_connection_sqlstate(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

std::string tidy_message(const char* message) {
    // One line for the logs: libpq ends with a newline and puts hints on indented lines of their own.
    std::string text;
    for (const char* c = message ? message : ""; *c; ++c) {
        const char ch = (*c == '\n' || *c == '\t' || *c == '\r') ? ' ' : *c;
        if (ch == ' ' && (text.empty() || text.back() == ' '))
            continue;
        text += ch;
    }
    if (!text.empty() && text.back() == ' ')
        text.pop_back();
    return text.empty() ? "unknown libpq error" : text;
}

void throw_result_error(const pg_result* result, bool connection_bad) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    std::string message = primary ? std::string(primary) : tidy_message(PQresultErrorMessage(result));
    if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL))
        message += " (" + std::string(detail) + ")";
    if (!sqlstate.empty())
        message = "PostgreSQL error " + sqlstate + ": " + message;
    if (connection_bad || is_connection_sqlstate(sqlstate))
        throw ConnectionLost(message, sqlstate);
    throw Error(message, sqlstate);
}

} // namespace ferry::pg
