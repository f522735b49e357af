#pragma once

#include <gmime/gmime.h>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// GMime started once for the process (g_mime_init registers its types; nothing parses without it) and
/// shut down at exit. Every use of GMime calls this first. GMime objects never leave the thread that made
/// them.
void use_gmime();

struct GObjectUnref {
    void operator()(gpointer object) const noexcept {
        if (object != nullptr)
            g_object_unref(object);
    }
};
/// Owns one reference to a GObject (what a `*_new*` or `construct` call returned); getters' results are
/// borrowed and stay raw pointers.
template <class T> using GPtr = std::unique_ptr<T, GObjectUnref>;

struct FormatOptionsFree {
    void operator()(GMimeFormatOptions* options) const noexcept { g_mime_format_options_free(options); }
};
using FormatOptions = std::unique_ptr<GMimeFormatOptions, FormatOptionsFree>;

struct GFree {
    void operator()(gpointer memory) const noexcept { g_free(memory); }
};
/// A string GMime or GLib allocated for the caller.
using GChars = std::unique_ptr<char, GFree>;

/// A mail (RFC 5322 bytes) as GMime reads it, with undeclared 8-bit header text taken as UTF-8, then
/// windows-1252; null when GMime finds no message at all.
GPtr<GMimeMessage> parse_message(std::string_view bytes);

/// The part's content with its transfer encoding (base64, quoted-printable) undone; bad base64 yields what
/// could be decoded.
std::string decoded_bytes(GMimePart* part);

} // namespace ferry::connectors::email
