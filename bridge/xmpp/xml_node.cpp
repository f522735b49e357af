#include "bridge/xmpp/xml_node.hpp"

#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <array>

namespace ferry::xmpp {

XmlNode::XmlNode(std::string name, std::string xmlns) : name_(std::move(name)), xmlns_(std::move(xmlns)) {}

XmlNode XmlNode::clone() const {
    XmlNode copy(name_, xmlns_);
    copy.attributes_ = attributes_;
    copy.text_ = text_;
    copy.tail_ = tail_;
    copy.children_.reserve(children_.size());
    for (const auto& c : children_)
        copy.children_.push_back(std::make_unique<XmlNode>(c->clone()));
    return copy;
}

std::string_view XmlNode::attribute(std::string_view name) const {
    for (const auto& [key, value] : attributes_)
        if (key == name)
            return value;
    return {};
}

bool XmlNode::has_attribute(std::string_view name) const {
    return std::any_of(attributes_.begin(), attributes_.end(),
                       [&](const Attribute& a) { return a.first == name; });
}

XmlNode& XmlNode::set_attribute(std::string name, std::string value) {
    for (auto& [key, current] : attributes_) {
        if (key == name) {
            current = std::move(value);
            return *this;
        }
    }
    attributes_.emplace_back(std::move(name), std::move(value));
    return *this;
}

void XmlNode::remove_attribute(std::string_view name) {
    std::erase_if(attributes_, [&](const Attribute& a) { return a.first == name; });
}

XmlNode& XmlNode::set_text(std::string text) {
    text_ = std::move(text);
    return *this;
}

void XmlNode::append_text(std::string_view text) {
    if (children_.empty())
        text_.append(text);
    else
        children_.back()->tail_.append(text);
}

XmlNode& XmlNode::add_child(XmlNode child) {
    children_.push_back(std::make_unique<XmlNode>(std::move(child)));
    return *children_.back();
}

XmlNode& XmlNode::add_child(std::string name, std::string xmlns) {
    return add_child(XmlNode(std::move(name), std::move(xmlns)));
}

const XmlNode* XmlNode::child(std::string_view name, std::string_view xmlns) const {
    for (const auto& c : children_)
        if (c->name_ == name && (xmlns.empty() || c->xmlns_ == xmlns))
            return c.get();
    return nullptr;
}

XmlNode* XmlNode::child(std::string_view name, std::string_view xmlns) {
    return const_cast<XmlNode*>(std::as_const(*this).child(name, xmlns));
}

namespace {
// 0: copy as is; 1..6: index into replacements; 7: a control character. XML 1.0 cannot carry those at all and
// the server would close the stream, so they become U+FFFD. A literal CR would be read back as LF: &#13;.
// 8: the lead of a non-ASCII sequence, checked for well-formed UTF-8 and for being an XML character.
constexpr std::array<unsigned char, 256> escape_class = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 0x20; ++c)
        t[c] = 7;
    for (int c = 0x80; c < 0x100; ++c)
        t[c] = 8;
    t['\t'] = 0;
    t['\n'] = 0;
    t['&'] = 1;
    t['<'] = 2;
    t['>'] = 3;
    t['"'] = 4;
    t['\''] = 5;
    t['\r'] = 6;
    return t;
}();
constexpr std::string_view replacement_character = "\xEF\xBF\xBD";
constexpr std::string_view replacements[] = {"",       "&amp;",  "&lt;",  "&gt;",
                                             "&quot;", "&apos;", "&#13;", replacement_character};
} // namespace

void append_escaped(std::string& out, std::string_view text) {
    std::size_t p = 0;
    while (p < text.size()) {
        const std::size_t run = p;
        while (p < text.size() && escape_class[static_cast<unsigned char>(text[p])] == 0)
            ++p;
        out.append(text.substr(run, p - run));
        if (p == text.size())
            break;
        const unsigned char kind = escape_class[static_cast<unsigned char>(text[p])];
        if (kind != 8) {
            out.append(replacements[kind]);
            ++p;
            continue;
        }
        // Invalid UTF-8, U+FFFE and U+FFFF are as fatal to the stream as a control character.
        std::size_t next = p;
        const auto code_point = ferry::text::decode_utf8(text, next);
        if (code_point && ferry::text::is_xml_char(*code_point))
            out.append(text.substr(p, next - p));
        else
            out.append(replacement_character);
        p = code_point ? next : p + 1;
    }
}

std::string escape_xml(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

void XmlNode::append_to(std::string& out, std::string_view parent_xmlns) const {
    out.push_back('<');
    out.append(name_);
    if (!xmlns_.empty() && xmlns_ != parent_xmlns) {
        out.append(" xmlns='");
        append_escaped(out, xmlns_);
        out.push_back('\'');
    }
    for (const auto& [key, value] : attributes_) {
        out.push_back(' ');
        out.append(key);
        out.append("='");
        append_escaped(out, value);
        out.push_back('\'');
    }
    if (text_.empty() && children_.empty()) {
        out.append("/>");
    } else {
        out.push_back('>');
        append_escaped(out, text_);
        const std::string_view own_xmlns = xmlns_.empty() ? parent_xmlns : std::string_view(xmlns_);
        for (const auto& c : children_) {
            c->append_to(out, own_xmlns);
            append_escaped(out, c->tail_);
        }
        out.append("</");
        out.append(name_);
        out.push_back('>');
    }
}

std::string XmlNode::to_string(std::string_view parent_xmlns) const {
    std::string out;
    out.reserve(512);
    append_to(out, parent_xmlns);
    return out;
}

} // namespace ferry::xmpp
