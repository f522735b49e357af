#include "connectors/formats/template.hpp"

#include "connectors/formats/styling.hpp"

#include <cctype>

namespace ferry::formats {

Escape parse_escape(std::string_view name) {
    if (name == "plain")
        return Escape::plain;
    if (name == "mrkdwn")
        return Escape::mrkdwn;
    if (name == "markdown")
        return Escape::markdown;
    if (name == "html")
        return Escape::html;
    if (name == "telegram")
        return Escape::telegram;
    if (name == "url")
        return Escape::url;
    throw TemplateError("unknown escape \"" + std::string(name) +
                        "\" (known: plain, mrkdwn, markdown, html, telegram, url)");
}

struct Template::Node {
    enum class Kind { text, value, branch, loop };
    Kind kind = Kind::text;
    std::string text; ///< text: the text; otherwise the path
    std::optional<Escape> escape;
    bool negate = false;
    std::vector<Node> body;
    std::vector<Node> otherwise;
};

namespace {

using Node = Template::Node;

std::string trimmed(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return std::string(text);
}

void check_path(const std::string& path, std::size_t at) {
    if (path.empty())
        throw TemplateError("an empty {{ }} at offset " + std::to_string(at));
    for (const char c : path)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '@'))
            throw TemplateError("\"" + path + "\" at offset " + std::to_string(at) +
                                " is not a path (letters, digits, _ - @ and dots)");
}

/// Compiles tags until `until` ("/if", "/each", "else") or the end; returns the tag that ended it.
std::string compile(std::string_view source, std::size_t& at, std::vector<Node>& out) {
    while (at < source.size()) {
        const std::size_t open = source.find("{{", at);
        if (open != at) {
            const std::size_t end = open == std::string_view::npos ? source.size() : open;
            out.push_back(
                Node{Node::Kind::text, std::string(source.substr(at, end - at)), {}, false, {}, {}});
            at = end;
            continue;
        }
        const std::size_t close = source.find("}}", open + 2);
        if (close == std::string_view::npos)
            throw TemplateError("a {{ at offset " + std::to_string(open) + " is never closed");
        std::string tag = trimmed(source.substr(open + 2, close - open - 2));
        at = close + 2;
        if (tag == "/if" || tag == "/each" || tag == "/unless" || tag == "else")
            return tag;
        if (tag.starts_with("#if ") || tag.starts_with("#unless ") || tag.starts_with("#each ")) {
            const bool loop = tag.starts_with("#each ");
            const bool negate = tag.starts_with("#unless ");
            Node node;
            node.kind = loop ? Node::Kind::loop : Node::Kind::branch;
            node.negate = negate;
            node.text = trimmed(tag.substr(tag.find(' ') + 1));
            check_path(node.text, open);
            const std::string end = loop ? "/each" : negate ? "/unless" : "/if";
            std::string ended = compile(source, at, node.body);
            if (ended == "else" && !loop)
                ended = compile(source, at, node.otherwise);
            if (ended != end) {
                std::string problem = "{{" + tag + "}} at offset " + std::to_string(open) + " needs {{";
                problem += end + "}}";
                if (!ended.empty())
                    problem += ", found {{" + ended + "}}";
                throw TemplateError(problem);
            }
            out.push_back(std::move(node));
            continue;
        }
        if (tag.starts_with("#") || tag.starts_with("/"))
            throw TemplateError("unknown tag {{" + tag + "}} at offset " + std::to_string(open));
        Node node;
        node.kind = Node::Kind::value;
        const std::size_t bar = tag.find('|');
        node.text = trimmed(tag.substr(0, bar));
        check_path(node.text, open);
        if (bar != std::string::npos)
            node.escape = parse_escape(trimmed(tag.substr(bar + 1)));
        out.push_back(std::move(node));
    }
    return {};
}

struct Scope {
    const nlohmann::json* value;
    std::size_t index;
};

const nlohmann::json* step(const nlohmann::json& value, std::string_view segment) {
    if (value.is_object()) {
        const auto found = value.find(segment);
        return found == value.end() ? nullptr : &*found;
    }
    if (value.is_array() && !segment.empty() &&
        segment.find_first_not_of("0123456789") == std::string_view::npos && segment.size() < 10) {
        const std::size_t index = std::stoul(std::string(segment));
        return index < value.size() ? &value[index] : nullptr;
    }
    return nullptr;
}

const nlohmann::json* walk(const nlohmann::json& from, std::string_view path) {
    const nlohmann::json* at = &from;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = path.find('.', start);
        at = step(*at, path.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (at == nullptr || dot == std::string_view::npos)
            return at;
        start = dot + 1;
    }
}

/// The value at `path` in the innermost scope that has its first segment; null when none has.
nlohmann::json lookup(const std::vector<Scope>& scopes, const std::string& path) {
    if (path == ".")
        return *scopes.back().value;
    if (path == "@index")
        return scopes.back().index;
    const std::string_view first = std::string_view(path).substr(0, path.find('.'));
    for (std::size_t i = scopes.size(); i-- > 0;) // the innermost scope first
        if (step(*scopes[i].value, first) != nullptr) {
            const nlohmann::json* found = walk(*scopes[i].value, path);
            return found == nullptr ? nlohmann::json() : *found;
        }
    return nullptr;
}

bool truthy(const nlohmann::json& value) {
    if (value.is_null())
        return false;
    if (value.is_boolean())
        return value.get<bool>();
    if (value.is_number())
        return value != 0;
    if (value.is_string()) // json::empty() is false for every string, even ""
        return !value.get_ref<const std::string&>().empty();
    if (value.is_array() || value.is_object())
        return !value.empty();
    return true;
}

std::string as_text(const nlohmann::json& value) {
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_null())
        return {};
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr std::size_t max_output = std::size_t{4} * 1024 * 1024;

void render_nodes(const std::vector<Node>& nodes, std::vector<Scope>& scopes, Escape escape,
                  std::string& out) {
    for (const Node& node : nodes) {
        if (out.size() > max_output)
            throw TemplateError("the template renders more than 4 MiB");
        switch (node.kind) {
        case Node::Kind::text:
            out += node.text;
            break;
        case Node::Kind::value:
            out += styled(as_text(lookup(scopes, node.text)), node.escape.value_or(escape));
            break;
        case Node::Kind::branch:
            render_nodes(truthy(lookup(scopes, node.text)) != node.negate ? node.body : node.otherwise,
                         scopes, escape, out);
            break;
        case Node::Kind::loop: {
            const nlohmann::json items = lookup(scopes, node.text);
            if (!items.is_array() && !items.is_object())
                break;
            std::size_t index = 0;
            for (const auto& item : items) {
                scopes.push_back({&item, index++});
                render_nodes(node.body, scopes, escape, out);
                scopes.pop_back();
            }
            break;
        }
        }
    }
}

} // namespace

Template::Template(std::string_view source, Escape escape) : escape_(escape) {
    std::size_t at = 0;
    const std::string ended = compile(source, at, nodes_);
    if (!ended.empty())
        throw TemplateError("{{" + ended + "}} without its opening tag");
}

Template::~Template() = default;
Template::Template(const Template&) = default;
Template& Template::operator=(const Template&) = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::json& context) const {
    std::vector<Scope> scopes{{&context, 0}};
    std::string out;
    render_nodes(nodes_, scopes, escape_, out);
    return out;
}

bool Template::single_value() const {
    return nodes_.size() == 1 && nodes_.front().kind == Node::Kind::value && !nodes_.front().escape;
}

nlohmann::json Template::value(const nlohmann::json& context) const {
    const std::vector<Scope> scopes{{&context, 0}};
    return lookup(scopes, nodes_.front().text);
}

struct JsonTemplate::Node { // NOLINT(bugprone-exception-escape): nlohmann::json's moves are noexcept
    enum class Kind { literal, text, array, object };
    Kind kind = Kind::literal;
    nlohmann::json literal;
    std::optional<Template> text;
    std::vector<Node> items;
    std::vector<std::string> member_names; ///< an object's keys, beside their values in `members`
    std::vector<Node> members;

    static Node compile(const nlohmann::json& body, Escape escape) {
        Node node;
        if (body.is_string()) {
            node.kind = Kind::text;
            node.text.emplace(body.get<std::string>(), escape);
        } else if (body.is_array()) {
            node.kind = Kind::array;
            for (const auto& item : body)
                node.items.push_back(compile(item, escape));
        } else if (body.is_object()) {
            node.kind = Kind::object;
            for (const auto& [key, item] : body.items()) {
                node.member_names.push_back(key);
                node.members.push_back(compile(item, escape));
            }
        } else {
            node.literal = body;
        }
        return node;
    }

    nlohmann::json render(const nlohmann::json& context) const {
        switch (kind) {
        case Kind::text:
            if (text->single_value()) {
                nlohmann::json value = text->value(context);
                if (!value.is_string())
                    return value;
            }
            return text->render(context); // strings still get their escape
        case Kind::array: {
            nlohmann::json out = nlohmann::json::array();
            for (const Node& item : items)
                out.push_back(item.render(context));
            return out;
        }
        case Kind::object: {
            nlohmann::json out = nlohmann::json::object();
            for (std::size_t i = 0; i < members.size(); ++i) {
                const std::string& key = member_names[i];
                nlohmann::json rendered = members[i].render(context);
                if (rendered.is_null() || (rendered.is_object() && rendered.empty()) ||
                    (rendered.is_string() && rendered.get_ref<const std::string&>().empty()))
                    continue; // an optional field with nothing in it
                out[key] = std::move(rendered);
            }
            return out;
        }
        case Kind::literal:
            break;
        }
        return literal;
    }
};

JsonTemplate::JsonTemplate(const nlohmann::json& body, Escape escape)
    : root_(std::make_unique<Node>(Node::compile(body, escape))) {}
JsonTemplate::~JsonTemplate() = default;
JsonTemplate::JsonTemplate(JsonTemplate&&) noexcept = default;
JsonTemplate& JsonTemplate::operator=(JsonTemplate&&) noexcept = default;

nlohmann::json JsonTemplate::render(const nlohmann::json& context) const {
    return root_->render(context);
}

nlohmann::json render_json(const nlohmann::json& body, const nlohmann::json& context, Escape escape) {
    return JsonTemplate(body, escape).render(context);
}

void check_json_template(const nlohmann::json& body) {
    if (body.is_string()) {
        const Template checked(body.get<std::string>());
        return;
    }
    if (body.is_array() || body.is_object())
        for (const auto& item : body)
            check_json_template(item);
}

} // namespace ferry::formats
