#pragma once

#include "bridge/xmpp/xml_node.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::xmpp {

struct ParserLimits {
    /// Bytes of one stanza, from its '<' to its end tag. Not below the servers' own limits: Prosody passes on
    /// what its users send (256 KiB by default) escaped again, which may be four times longer.
    std::size_t max_stanza_size = 1024 * 1024UL;
    std::size_t max_depth = 64;       ///< element nesting, the stream element counting as 1
    std::size_t max_attributes = 100; ///< attributes of one element
    /// A stanza over a limit is skipped without being built; one longer than this many times the size limit,
    /// or a single token longer than the size limit, ends the stream (that much input is not a stanza).
    std::size_t skip_factor = 16;
};

/// Why a stream was rejected; each maps to one RFC 6120 stream error condition.
enum class ParseError {
    none,
    not_well_formed,   ///< not-well-formed: broken XML or invalid UTF-8
    restricted_xml,    ///< restricted-xml: DTD, entity declaration, comment or processing instruction
    policy_violation,  ///< policy-violation: more input than any stanza may have
    invalid_namespace, ///< invalid-namespace: the root element is not <stream:stream>
};

/// The RFC 6120 defined condition for a parse error ("not-well-formed", ...).
std::string_view stream_error_condition(ParseError error);

/// Streaming XML parser for one XMPP stream (expat, namespace-aware).
/// Depth 1 is the stream element; each complete depth-2 element is handed over as a stanza and then
/// forgotten, so an endless stream never accumulates memory. A stanza over a limit of ParserLimits (size,
/// depth, attributes) is that stanza's problem: the rest of it is read without being built, and it is
/// reported as refused once it ends, so the stream goes on. Rejects what RFC 6120 §11.1 forbids, and never
/// waits for more input to report a stanza whose last byte has arrived.
class XmlStreamParser {
public:
    struct Callbacks {
        std::function<void(const XmlNode& header)>
            stream_opened; ///< the <stream:stream> element, no children
        std::function<void(XmlNode stanza)> stanza;
        std::function<void()> stream_closed; ///< </stream:stream> received
        /// A stanza over a limit, skipped: its top element with the attributes an error reply needs (from,
        /// to, id, type) and no children, and why.
        std::function<void(XmlNode head, std::string reason)> stanza_refused;
    };

    XmlStreamParser(ParserLimits limits, Callbacks callbacks);
    ~XmlStreamParser();
    XmlStreamParser(const XmlStreamParser&) = delete;
    XmlStreamParser& operator=(const XmlStreamParser&) = delete;

    /// Parses the next bytes of the stream, calling the callbacks for what they complete.
    /// Returns false once the stream is in error; error() and error_text() then tell why.
    bool feed(std::string_view bytes);
    /// Starts over for a new stream (after a reconnect).
    void reset();

    ParseError error() const { return error_; }
    const std::string& error_text() const { return error_text_; }
    std::size_t depth() const { return depth_; }

private:
    struct Expat;
    static void on_start(void* self, const char* name, const char** attributes);
    static void on_end(void* self, const char* name);
    static void on_text(void* self, const char* text, int length);
    static void on_forbidden(void* self, const char* what);

    void create_parser();
    void fail(ParseError error, std::string text);
    bool within_size_limit();
    /// Drops what was built of the current stanza and reads the rest of it without building anything.
    void skip_stanza(std::string reason);

    ParserLimits limits_;
    Callbacks callbacks_;
    std::unique_ptr<Expat> expat_;
    std::size_t depth_ = 0;
    std::int64_t stanza_start_ = 0; ///< byte index where the current stanza (or the gap before it) began
    std::int64_t bytes_fed_ = 0;
    std::optional<XmlNode> stanza_;
    std::vector<XmlNode*> open_elements_; ///< path from the stanza root to the innermost open element
    std::optional<XmlNode> skipped_head_; ///< set while the current stanza is being skipped
    std::string skip_reason_;
    std::int64_t last_event_ = 0; ///< byte index of expat's latest callback: a token it buffers starts there
    ParseError error_ = ParseError::none;
    std::string error_text_;
};

} // namespace ferry::xmpp
