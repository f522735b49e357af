#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::xmpp {

/// An owned XML element: name, namespace, attributes, text and child elements.
/// Text that follows a child element is kept as that child's tail, so mixed content survives a round trip.
/// Copying is explicit (clone()); moving is cheap.
class XmlNode {
public:
    using Attribute = std::pair<std::string, std::string>;

    explicit XmlNode(std::string name, std::string xmlns = {});
    XmlNode(XmlNode&&) noexcept = default;
    XmlNode& operator=(XmlNode&&) noexcept = default;
    XmlNode(const XmlNode&) = delete;
    XmlNode& operator=(const XmlNode&) = delete;
    ~XmlNode() = default;

    /// A deep copy of this element and everything below it.
    XmlNode clone() const;

    const std::string& name() const { return name_; }
    const std::string& xmlns() const { return xmlns_; }

    /// The attribute's value, or an empty view when it is absent.
    std::string_view attribute(std::string_view name) const;
    bool has_attribute(std::string_view name) const;
    /// Sets (or replaces) an attribute; returns *this for chaining.
    XmlNode& set_attribute(std::string name, std::string value);
    /// Adds an attribute without looking for one of the same name (for the parser, whose input expat has
    /// checked for duplicates already).
    void append_attribute(std::string name, std::string value) {
        attributes_.emplace_back(std::move(name), std::move(value));
    }
    void remove_attribute(std::string_view name);
    void reserve_attributes(std::size_t n) { attributes_.reserve(n); }
    const std::vector<Attribute>& attributes() const { return attributes_; }

    /// Text directly inside this element, before its first child.
    const std::string& text() const { return text_; }
    XmlNode& set_text(std::string text);
    void append_text(std::string_view text);
    /// Text that follows this element inside its parent.
    const std::string& tail() const { return tail_; }
    void append_tail(std::string_view text) { tail_.append(text); }

    /// Appends a child and returns a reference to it (stable: children are heap-allocated).
    XmlNode& add_child(XmlNode child);
    XmlNode& add_child(std::string name, std::string xmlns = {});
    const std::vector<std::unique_ptr<XmlNode>>& children() const { return children_; }

    /// The first child with this name (and namespace, when given), or nullptr.
    const XmlNode* child(std::string_view name, std::string_view xmlns = {}) const;
    XmlNode* child(std::string_view name, std::string_view xmlns = {});
    /// The first child element, whatever its name (e.g. the payload of an IQ), or nullptr.
    const XmlNode* first_child() const { return children_.empty() ? nullptr : children_.front().get(); }

    /// Serialises this element. xmlns is written only where it differs from parent_xmlns.
    std::string to_string(std::string_view parent_xmlns = {}) const;
    void append_to(std::string& out, std::string_view parent_xmlns = {}) const;

private:
    std::string name_;
    std::string xmlns_;
    std::vector<Attribute> attributes_;
    std::string text_;
    std::string tail_;
    std::vector<std::unique_ptr<XmlNode>> children_;
};

/// Appends text escaped for XML character data and attribute values (& < > " ' and CR). Whatever XML 1.0
/// cannot carry (control characters, U+FFFE, U+FFFF, invalid UTF-8: each ill-formed byte) becomes U+FFFD, so
/// no text can make the receiving server close the stream.
void append_escaped(std::string& out, std::string_view text);
std::string escape_xml(std::string_view text);

} // namespace ferry::xmpp
