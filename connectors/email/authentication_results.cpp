#include "connectors/email/authentication_results.hpp"

#include "bridge/text/utf8.hpp"

namespace ferry::connectors::email {

namespace {

/// The field without its comments (RFC 5322 CFWS: parenthesised, nestable, with quoted pairs); quoted
/// strings are kept as they are, so a ';' or '(' inside one does not count.
std::string without_comments(std::string_view field) {
    std::string out;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < field.size(); ++i) {
        const char c = field[i];
        if (c == '\\' && i + 1 < field.size()) {
            if (depth == 0)
                out.append(field.substr(i, 2));
            ++i;
        } else if (quoted) {
            out += c;
            quoted = c != '"';
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && depth > 0) {
            --depth;
        } else if (depth == 0) {
            out += c;
            quoted = c == '"';
        }
    }
    return out;
}

/// The parts of the field between ';' outside quoted strings.
std::vector<std::string> statements(const std::string& field) {
    std::vector<std::string> parts(1);
    bool quoted = false;
    for (char c : field) {
        if (c == '"')
            quoted = !quoted;
        if (c == ';' && !quoted)
            parts.emplace_back();
        else
            parts.back() += c;
    }
    return parts;
}

std::string first_word(std::string_view text) {
    const std::size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos)
        return {};
    const std::size_t end = text.find_first_of(" \t\r\n", start);
    return std::string(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

} // namespace

std::optional<std::string> authentication_result(const std::vector<std::string>& fields,
                                                 std::string_view authserv_id, std::string_view method) {
    const std::string wanted_id = text::ascii_lowercase(authserv_id);
    const std::string wanted_method = text::ascii_lowercase(method);
    for (const std::string& field : fields) {
        const std::vector<std::string> parts = statements(without_comments(field));
        if (text::ascii_lowercase(first_word(parts.front())) != wanted_id)
            continue;
        for (std::size_t i = 1; i < parts.size(); ++i) {
            const std::string result_info = first_word(parts[i]); // method[/version]=result
            const std::size_t equals = result_info.find('=');
            if (equals == std::string::npos)
                continue;
            std::string name = text::ascii_lowercase(result_info.substr(0, equals));
            name = name.substr(0, name.find('/'));
            if (name == wanted_method)
                return text::ascii_lowercase(result_info.substr(equals + 1));
        }
        return std::nullopt; // the trusted MTA's own field, without that method: its word is final
    }
    return std::nullopt;
}

} // namespace ferry::connectors::email
