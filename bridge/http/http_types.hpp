#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::http {

/// One HTTP request as the server read it; Beast stays inside the server.
struct Request {
    std::string method;                         ///< "GET", "POST", …
    std::string target;                         ///< path and query, as sent ("/hooks/alerts?x=1")
    std::map<std::string, std::string> headers; ///< names lowercased; a repeated header keeps its last value
    std::string body;
    std::string remote; ///< peer address, for log lines

    /// The path without the query.
    std::string_view path() const;
    /// The header's value, or empty.
    std::string_view header(std::string_view lowercase_name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// `{"error": reason}` with `status`: every refusal Ferry answers over HTTP looks like this.
Response json_error(int status, std::string_view reason);

} // namespace ferry::http
