#include "bridge/text/json_input.hpp"

#include "bridge/text/log_text.hpp"

namespace ferry::text {

namespace {

using json = nlohmann::json;

/// nlohmann's DOM builder behind checks of depth, numbers and strings.
class BoundedDom {
public:
    BoundedDom(json& result, JsonNul nul, std::size_t max_depth)
        : dom_(result, false), nul_(nul), max_depth_(max_depth) {}

    bool null() { return dom_.null(); }
    bool boolean(bool value) { return dom_.boolean(value); }
    bool number_integer(json::number_integer_t value) { return dom_.number_integer(value); }
    bool number_unsigned(json::number_unsigned_t value) { return dom_.number_unsigned(value); }
    bool number_float(json::number_float_t value, const json::string_t& token) {
        return dom_.number_float(value, token);
    }
    bool string(json::string_t& value) {
        if (!acceptable(value))
            return refuse("a string holds U+0000, which cannot be stored");
        return dom_.string(value);
    }
    bool binary(json::binary_t& value) { return dom_.binary(value); }
    bool start_object(std::size_t size) { return deeper() && dom_.start_object(size); }
    bool key(json::string_t& value) {
        if (!acceptable(value))
            return refuse("a key holds U+0000, which cannot be stored");
        return dom_.key(value);
    }
    bool end_object() {
        --depth_;
        return dom_.end_object();
    }
    bool start_array(std::size_t size) { return deeper() && dom_.start_array(size); }
    bool end_array() {
        --depth_;
        return dom_.end_array();
    }
    template <typename Exception>
    bool parse_error(std::size_t position, const std::string& last_token, const Exception& error) {
        // nlohmann's own message quotes the whole last token, which may be a megabyte long.
        constexpr int number_overflow = 406; // out_of_range.406: 1e400, a 5,000-digit integer
        if (error.id == number_overflow)
            return refuse("the number " + shortened(last_token, 24) + " is out of range");
        return refuse("malformed JSON at byte " + std::to_string(position) + " near " +
                      shortened(last_token, 24));
    }

    const std::string& error() const { return error_; }

private:
    /// False for a string with U+0000 that is to be refused; replaces it where it is to be replaced.
    bool acceptable(json::string_t& value) const {
        std::size_t at = value.find('\0');
        if (at == json::string_t::npos)
            return true;
        if (nul_ == JsonNul::refuse)
            return false;
        for (; at != json::string_t::npos; at = value.find('\0', at))
            value.replace(at, 1, "\xEF\xBF\xBD");
        return true;
    }
    bool deeper() {
        if (++depth_ > max_depth_)
            return refuse("nested deeper than " + std::to_string(max_depth_) + " levels");
        return true;
    }
    bool refuse(std::string reason) {
        if (error_.empty())
            error_ = std::move(reason);
        return false;
    }

    nlohmann::detail::json_sax_dom_parser<json> dom_;
    JsonNul nul_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    std::string error_;
};

} // namespace

json parse_json(std::string_view text, JsonNul nul, std::size_t max_depth) {
    json result;
    BoundedDom dom(result, nul, max_depth);
    const bool ok = json::sax_parse(text, &dom);
    if (!ok || !dom.error().empty())
        throw JsonInputError(dom.error().empty() ? "malformed JSON" : dom.error());
    return result;
}

} // namespace ferry::text
