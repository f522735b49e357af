#include "bridge/xmpp/xml_stream_parser.hpp"

#include <cstring>
#include <expat.h>
#include <limits>

namespace ferry::xmpp {

namespace {

constexpr char separator = '\x1f';
constexpr std::string_view xml_namespace = "http://www.w3.org/XML/1998/namespace";
constexpr std::string_view streams_namespace = "http://etherx.jabber.org/streams";

/// An expat name in triplet form: "uri<sep>local<sep>prefix", "uri<sep>local" or "local".
struct ExpandedName {
    std::string_view uri;
    std::string_view local;
    std::string_view prefix;
};

ExpandedName split_name(const char* raw) {
    const std::string_view name(raw);
    const auto first = name.find(separator);
    if (first == std::string_view::npos)
        return {{}, name, {}};
    const auto second = name.find(separator, first + 1);
    if (second == std::string_view::npos)
        return {name.substr(0, first), name.substr(first + 1), {}};
    return {name.substr(0, first), name.substr(first + 1, second - first - 1), name.substr(second + 1)};
}

XmlNode make_element(const char* raw_name, const char** attributes) {
    const ExpandedName name = split_name(raw_name);
    XmlNode node{std::string(name.local), std::string(name.uri)};
    std::size_t count = 0;
    for (const char** a = attributes; *a != nullptr; a += 2)
        ++count;
    node.reserve_attributes(count);
    for (const char** a = attributes; *a != nullptr; a += 2) {
        const ExpandedName attribute = split_name(a[0]);
        if (attribute.uri.empty()) {
            node.set_attribute(std::string(attribute.local), a[1]);
        } else if (attribute.uri == xml_namespace) {
            node.set_attribute("xml:" + std::string(attribute.local), a[1]);
        } else {
            const std::string prefix =
                attribute.prefix.empty() ? std::string("ns") : std::string(attribute.prefix);
            node.set_attribute("xmlns:" + prefix, std::string(attribute.uri));
            node.set_attribute(prefix + ":" + std::string(attribute.local), a[1]);
        }
    }
    return node;
}

} // namespace

struct XmlStreamParser::Expat {
    XML_Parser parser;
    explicit Expat(XML_Parser p) : parser(p) {}
    ~Expat() { XML_ParserFree(parser); }
    Expat(const Expat&) = delete;
    Expat& operator=(const Expat&) = delete;
};

std::string_view stream_error_condition(ParseError error) {
    switch (error) {
    case ParseError::none:
        return {};
    case ParseError::not_well_formed:
        return "not-well-formed";
    case ParseError::restricted_xml:
        return "restricted-xml";
    case ParseError::policy_violation:
        return "policy-violation";
    case ParseError::invalid_namespace:
        return "invalid-namespace";
    }
    return "undefined-condition";
}

XmlStreamParser::XmlStreamParser(ParserLimits limits, Callbacks callbacks)
    : limits_(limits), callbacks_(std::move(callbacks)) {
    create_parser();
}

XmlStreamParser::~XmlStreamParser() = default;

void XmlStreamParser::create_parser() {
    const char separator_string[] = {separator, '\0'};
    XML_Parser parser = XML_ParserCreateNS("UTF-8", separator_string[0]);
    if (parser == nullptr)
        throw std::bad_alloc();
    expat_ = std::make_unique<Expat>(parser);
    XML_SetReturnNSTriplet(parser, XML_TRUE);
    XML_SetUserData(parser, this);
    XML_SetElementHandler(parser, &XmlStreamParser::on_start, &XmlStreamParser::on_end);
    XML_SetCharacterDataHandler(parser, &XmlStreamParser::on_text);
    XML_SetStartDoctypeDeclHandler(parser, [](void* self, const XML_Char*, const XML_Char*, const XML_Char*,
                                              int) { on_forbidden(self, "a document type declaration"); });
    XML_SetEntityDeclHandler(parser, [](void* self, const XML_Char*, int, const XML_Char*, int,
                                        const XML_Char*, const XML_Char*, const XML_Char*,
                                        const XML_Char*) { on_forbidden(self, "an entity declaration"); });
    XML_SetProcessingInstructionHandler(parser, [](void* self, const XML_Char*, const XML_Char*) {
        on_forbidden(self, "a processing instruction");
    });
    XML_SetCommentHandler(parser, [](void* self, const XML_Char*) { on_forbidden(self, "a comment"); });
#ifdef FERRY_HAVE_REPARSE_DEFERRAL
    // Deferral would hold back a complete stanza until more bytes arrive: fatal for a request/response
    // protocol. The slow-token case it guards against cannot happen under max_stanza_size.
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#endif
}

void XmlStreamParser::reset() {
    create_parser();
    depth_ = 0;
    stanza_start_ = 0;
    bytes_fed_ = 0;
    stanza_.reset();
    open_elements_.clear();
    error_ = ParseError::none;
    error_text_.clear();
}

void XmlStreamParser::fail(ParseError error, std::string text) {
    if (error_ != ParseError::none)
        return;
    error_ = error;
    error_text_ = std::move(text);
    XML_StopParser(expat_->parser, XML_FALSE);
}

bool XmlStreamParser::within_size_limit() {
    if (depth_ < 2)
        return true;
    const std::int64_t used = XML_GetCurrentByteIndex(expat_->parser) - stanza_start_;
    if (used <= static_cast<std::int64_t>(limits_.max_stanza_size))
        return true;
    fail(ParseError::policy_violation,
         "stanza larger than the limit of " + std::to_string(limits_.max_stanza_size) + " bytes");
    return false;
}

bool XmlStreamParser::feed(std::string_view bytes) {
    if (error_ != ParseError::none)
        return false;
    while (!bytes.empty()) {
        // expat takes an int length; feed huge buffers in pieces.
        const std::size_t piece = std::min<std::size_t>(bytes.size(), std::numeric_limits<int>::max() / 2);
        bytes_fed_ += static_cast<std::int64_t>(piece);
        const XML_Status status = XML_Parse(expat_->parser, bytes.data(), static_cast<int>(piece), XML_FALSE);
        if (error_ != ParseError::none)
            return false;
        if (status != XML_STATUS_OK) {
            const XML_Error code = XML_GetErrorCode(expat_->parser);
            fail(ParseError::not_well_formed, std::string(XML_ErrorString(code)) + " at line " +
                                                  std::to_string(XML_GetCurrentLineNumber(expat_->parser)) +
                                                  ", column " +
                                                  std::to_string(XML_GetCurrentColumnNumber(expat_->parser)));
            return false;
        }
        // A token expat is still buffering (an endless attribute value, say) counts against the limit too.
        if (depth_ >= 1 && bytes_fed_ - stanza_start_ > static_cast<std::int64_t>(limits_.max_stanza_size)) {
            fail(ParseError::policy_violation,
                 "stanza larger than the limit of " + std::to_string(limits_.max_stanza_size) + " bytes");
            return false;
        }
        bytes.remove_prefix(piece);
    }
    return true;
}

void XmlStreamParser::on_start(void* self_ptr, const char* name, const char** attributes) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    if (self.error_ != ParseError::none)
        return;
    if (self.depth_ + 1 > self.limits_.max_depth) {
        self.fail(ParseError::policy_violation,
                  "elements nested deeper than the limit of " + std::to_string(self.limits_.max_depth));
        return;
    }
    ++self.depth_;
    if (self.depth_ == 1) {
        XmlNode header = make_element(name, attributes);
        if (header.name() != "stream" || header.xmlns() != streams_namespace) {
            self.fail(ParseError::invalid_namespace, "the stream does not start with <stream:stream>");
            return;
        }
        self.stanza_start_ = XML_GetCurrentByteIndex(self.expat_->parser);
        if (self.callbacks_.stream_opened)
            self.callbacks_.stream_opened(header);
        return;
    }
    if (self.depth_ == 2) {
        self.stanza_start_ = XML_GetCurrentByteIndex(self.expat_->parser);
        self.stanza_.emplace(make_element(name, attributes));
        self.open_elements_.assign(1, &*self.stanza_);
    } else {
        XmlNode& child = self.open_elements_.back()->add_child(make_element(name, attributes));
        self.open_elements_.push_back(&child);
    }
    self.within_size_limit();
}

void XmlStreamParser::on_end(void* self_ptr, const char*) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    if (self.error_ != ParseError::none)
        return;
    if (self.depth_ == 1) {
        self.depth_ = 0;
        if (self.callbacks_.stream_closed)
            self.callbacks_.stream_closed();
        return;
    }
    if (!self.within_size_limit())
        return;
    --self.depth_;
    self.open_elements_.pop_back();
    if (self.depth_ == 1) {
        self.stanza_start_ = XML_GetCurrentByteIndex(self.expat_->parser);
        XmlNode stanza = std::move(*self.stanza_);
        self.stanza_.reset();
        if (self.callbacks_.stanza)
            self.callbacks_.stanza(std::move(stanza));
    }
}

void XmlStreamParser::on_text(void* self_ptr, const char* text, int length) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    if (self.error_ != ParseError::none)
        return;
    if (self.depth_ < 2) {
        // Whitespace keepalive between stanzas: it does not count towards the next stanza's size.
        self.stanza_start_ = XML_GetCurrentByteIndex(self.expat_->parser);
        return;
    }
    if (self.within_size_limit())
        self.open_elements_.back()->append_text(std::string_view(text, static_cast<std::size_t>(length)));
}

void XmlStreamParser::on_forbidden(void* self_ptr, const char* what) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    self.fail(ParseError::restricted_xml,
              std::string("the stream contains ") + what + ", which XMPP forbids");
}

} // namespace ferry::xmpp
