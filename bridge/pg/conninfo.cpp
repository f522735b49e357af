#include "bridge/pg/conninfo.hpp"

#include <libpq-fe.h>
#include <memory>
#include <stdexcept>

namespace ferry::pg {

namespace {

struct OptionsDeleter {
    void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

/// Parses with libpq; the error text is freed unread, since it may quote the password.
Options parse(const std::string& conninfo) {
    char* error = nullptr;
    Options options(PQconninfoParse(conninfo.c_str(), &error));
    if (error)
        PQfreemem(error);
    return options;
}

/// Quotes a value the way libpq's key=value syntax reads it back: 'it\'s'.
std::string quoted(const std::string& value) {
    std::string text = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\')
            text += '\\';
        text += c;
    }
    return text + "'";
}

} // namespace

std::string redact_conninfo(const std::string& conninfo) {
    const Options options = parse(conninfo);
    if (!options)
        return "<invalid connection string>";
    std::string text;
    for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
        if (!option->val)
            continue;
        if (!text.empty())
            text += ' ';
        text += option->keyword;
        text += '=';
        // libpq marks secrets with the display character '*' ("hide value").
        const bool secret = option->dispchar && option->dispchar[0] == '*';
        text += secret ? std::string("***") : quoted(option->val);
    }
    return text;
}

void check_conninfo(const std::string& conninfo) {
    if (!parse(conninfo))
        throw std::invalid_argument(
            "the PostgreSQL connection string cannot be parsed (not shown: it may hold "
            "a password); expected postgresql://user:password@host:port/database or "
            "host=… port=… dbname=… user=…");
}

} // namespace ferry::pg
