#include "connectors/email/gmime_support.hpp"

namespace ferry::connectors::email {

namespace {

class GMimeLibrary {
public:
    GMimeLibrary() { g_mime_init(); }
    ~GMimeLibrary() { g_mime_shutdown(); }
    GMimeLibrary(const GMimeLibrary&) = delete;
    GMimeLibrary& operator=(const GMimeLibrary&) = delete;
};

struct ParserOptionsFree {
    void operator()(GMimeParserOptions* options) const noexcept { g_mime_parser_options_free(options); }
};

} // namespace

void use_gmime() {
    static const GMimeLibrary library; // started on first use, thread-safely; shut down at exit
}

GPtr<GMimeMessage> parse_message(std::string_view bytes) {
    use_gmime();
    const GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
    const GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    const std::unique_ptr<GMimeParserOptions, ParserOptionsFree> options(g_mime_parser_options_new());
    const char* fallback[] = {"utf-8", "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(options.get(), fallback);
    return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), options.get()));
}

std::string decoded_bytes(GMimePart* part) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (content == nullptr)
        return {};
    const GPtr<GMimeStream> out(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(content, out.get());
    const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return {reinterpret_cast<const char*>(bytes->data), bytes->len};
}

} // namespace ferry::connectors::email
