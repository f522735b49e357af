#include "bridge/http/http_types.hpp"

#include <nlohmann/json.hpp>

namespace ferry::http {

std::string_view Request::path() const {
    const std::string_view all(target);
    return all.substr(0, all.find('?'));
}

std::string_view Request::header(std::string_view lowercase_name) const {
    const auto found = headers.find(std::string(lowercase_name));
    return found == headers.end() ? std::string_view() : std::string_view(found->second);
}

Response json_error(int status, std::string_view reason) {
    Response response;
    response.status = status;
    response.body =
        nlohmann::json{{"error", reason}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
    return response;
}

} // namespace ferry::http
