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

std::size_t attribute_count(const char** attributes) {
    std::size_t count = 0;
    for (const char** a = attributes; *a != nullptr; a += 2)
        ++count;
    return count;
}

XmlNode make_element(const char* raw_name, const char** attributes, std::size_t count) {
    const ExpandedName name = split_name(raw_name);
    XmlNode node{std::string(name.local), std::string(name.uri)};
    node.reserve_attributes(count);
    for (const char** a = attributes; *a != nullptr; a += 2) {
        const ExpandedName attribute = split_name(a[0]);
        // expat has refused duplicate attributes already: no need to look for them again.
        if (attribute.uri.empty()) {
            node.append_attribute(std::string(attribute.local), a[1]);
        } else if (attribute.uri == xml_namespace) {
            node.append_attribute("xml:" + std::string(attribute.local), a[1]);
        } else {
            const std::string prefix =
                attribute.prefix.empty() ? std::string("ns") : std::string(attribute.prefix);
            node.set_attribute("xmlns:" + prefix, std::string(attribute.uri)); // one per prefix
            node.append_attribute(prefix + ":" + std::string(attribute.local), a[1]);
        }
    }
    return node;
}

/// What an error reply to a refused stanza needs of its top element: name, namespace and addressing.
XmlNode stanza_head(const char* raw_name, const char** attributes) {
    constexpr std::size_t longest = 3071; // a JID is at most three parts of 1023 bytes
    const ExpandedName name = split_name(raw_name);
    XmlNode head{std::string(name.local), std::string(name.uri)};
    for (const char** a = attributes; *a != nullptr; a += 2) {
        const std::string_view key(a[0]);
        if ((key == "from" || key == "to" || key == "id" || key == "type") && std::strlen(a[1]) <= longest)
            head.append_attribute(std::string(key), a[1]);
    }
    return head;
}

/// expat keeps a frame per open element: a skipped stanza may go deep (Prosody passes tens of thousands of
/// levels), not endlessly deep.
constexpr std::size_t max_skipped_depth = 100'000;

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
    skipped_head_.reset();
    skip_reason_.clear();
    last_event_ = 0;
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
    if (depth_ < 2 || skipped_head_)
        return true;
    const std::int64_t used = XML_GetCurrentByteIndex(expat_->parser) - stanza_start_;
    if (used <= static_cast<std::int64_t>(limits_.max_stanza_size))
        return true;
    skip_stanza("stanza larger than the limit of " + std::to_string(limits_.max_stanza_size) + " bytes");
    return false;
}

void XmlStreamParser::skip_stanza(std::string reason) {
    if (skipped_head_)
        return;
    XmlNode head(stanza_->name(), stanza_->xmlns());
    for (const auto& [key, value] : stanza_->attributes())
        if (key == "from" || key == "to" || key == "id" || key == "type")
            head.append_attribute(key, value);
    skipped_head_.emplace(std::move(head));
    skip_reason_ = std::move(reason);
    stanza_.reset();
    open_elements_.clear();
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
        // What expat still buffers (an endless attribute value, say) is bounded too: a single token over the
        // size limit, or a skipped stanza far over it, is more than any stanza may be.
        const auto limit = static_cast<std::int64_t>(limits_.max_stanza_size);
        const std::int64_t since_event = bytes_fed_ - (depth_ >= 2 ? last_event_ : stanza_start_);
        if (depth_ >= 1 && since_event > limit) {
            fail(ParseError::policy_violation, "a single XML token longer than the stanza size limit of " +
                                                   std::to_string(limits_.max_stanza_size) + " bytes");
            return false;
        }
        if (depth_ >= 2 &&
            bytes_fed_ - stanza_start_ > limit * static_cast<std::int64_t>(limits_.skip_factor)) {
            fail(ParseError::policy_violation, "a stanza over " + std::to_string(limits_.skip_factor) +
                                                   " times the size limit of " +
                                                   std::to_string(limits_.max_stanza_size) + " bytes");
            return false;
        }
        if (depth_ >= 2 && !skipped_head_ && bytes_fed_ - stanza_start_ > limit)
            skip_stanza("stanza larger than the limit of " + std::to_string(limits_.max_stanza_size) +
                        " bytes");
        bytes.remove_prefix(piece);
    }
    return true;
}

void XmlStreamParser::on_start(void* self_ptr, const char* name, const char** attributes) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    if (self.error_ != ParseError::none)
        return;
    self.last_event_ = XML_GetCurrentByteIndex(self.expat_->parser);
    if (self.skipped_head_) {
        if (++self.depth_ > max_skipped_depth)
            self.fail(ParseError::policy_violation,
                      "elements nested deeper than " + std::to_string(max_skipped_depth) + " levels");
        return;
    }
    const std::size_t count = attribute_count(attributes);
    const std::string too_many = "an element with " + std::to_string(count) + " attributes; the limit is " +
                                 std::to_string(self.limits_.max_attributes);
    if (self.depth_ == 0) {
        if (count > self.limits_.max_attributes) {
            self.fail(ParseError::policy_violation, "the stream header is " + too_many);
            return;
        }
        self.depth_ = 1;
        XmlNode header = make_element(name, attributes, count);
        if (header.name() != "stream" || header.xmlns() != streams_namespace) {
            self.fail(ParseError::invalid_namespace, "the stream does not start with <stream:stream>");
            return;
        }
        self.stanza_start_ = self.last_event_;
        if (self.callbacks_.stream_opened)
            self.callbacks_.stream_opened(header);
        return;
    }
    ++self.depth_;
    if (self.depth_ == 2) {
        self.stanza_start_ = self.last_event_;
        if (count > self.limits_.max_attributes) {
            self.skipped_head_.emplace(stanza_head(name, attributes));
            self.skip_reason_ = too_many;
            return;
        }
        self.stanza_.emplace(make_element(name, attributes, count));
        self.open_elements_.assign(1, &*self.stanza_);
    } else if (self.depth_ > self.limits_.max_depth) {
        self.skip_stanza("elements nested deeper than the limit of " +
                         std::to_string(self.limits_.max_depth));
        return;
    } else if (count > self.limits_.max_attributes) {
        self.skip_stanza(too_many);
        return;
    } else {
        XmlNode& child = self.open_elements_.back()->add_child(make_element(name, attributes, count));
        self.open_elements_.push_back(&child);
    }
    self.within_size_limit();
}

void XmlStreamParser::on_end(void* self_ptr, const char*) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    if (self.error_ != ParseError::none)
        return;
    self.last_event_ = XML_GetCurrentByteIndex(self.expat_->parser);
    if (self.depth_ == 1) {
        self.depth_ = 0;
        if (self.callbacks_.stream_closed)
            self.callbacks_.stream_closed();
        return;
    }
    self.within_size_limit(); // the end tag may be what takes the stanza over the limit
    --self.depth_;
    if (self.skipped_head_) {
        if (self.depth_ == 1) {
            self.stanza_start_ = self.last_event_;
            XmlNode head = std::move(*self.skipped_head_);
            self.skipped_head_.reset();
            if (self.callbacks_.stanza_refused)
                self.callbacks_.stanza_refused(std::move(head), std::move(self.skip_reason_));
            self.skip_reason_.clear();
        }
        return;
    }
    self.open_elements_.pop_back();
    if (self.depth_ == 1) {
        self.stanza_start_ = self.last_event_;
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
    self.last_event_ = XML_GetCurrentByteIndex(self.expat_->parser);
    if (self.depth_ < 2) {
        // Whitespace keepalive between stanzas: it does not count towards the next stanza's size.
        self.stanza_start_ = self.last_event_;
        return;
    }
    if (self.within_size_limit() && !self.skipped_head_)
        self.open_elements_.back()->append_text(std::string_view(text, static_cast<std::size_t>(length)));
}

void XmlStreamParser::on_forbidden(void* self_ptr, const char* what) {
    auto& self = *static_cast<XmlStreamParser*>(self_ptr);
    self.fail(ParseError::restricted_xml,
              std::string("the stream contains ") + what + ", which XMPP forbids");
}

} // namespace ferry::xmpp
