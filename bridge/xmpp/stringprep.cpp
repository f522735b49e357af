#include "bridge/xmpp/stringprep.hpp"

#include <stringprep.h>
#include <vector>

namespace ferry::xmpp {

namespace {

std::optional<std::string> prepare(std::string_view text, const Stringprep_profile* profile) {
    // Case folding and NFKC may lengthen the text; libidn works in place and says when the room is short.
    for (std::size_t room = text.size() * 4 + 16; room <= text.size() * 64 + 64; room *= 4) {
        std::vector<char> buffer(room, '\0');
        text.copy(buffer.data(), text.size());
        const int status =
            stringprep(buffer.data(), buffer.size(), static_cast<Stringprep_profile_flags>(0), profile);
        if (status == STRINGPREP_OK)
            return std::string(buffer.data());
        if (status != STRINGPREP_TOO_SMALL_BUFFER)
            return std::nullopt;
    }
    return std::nullopt;
}

} // namespace

std::optional<std::string> nodeprep(std::string_view local) {
    if (local.find('\0') != std::string_view::npos)
        return std::nullopt;
    return prepare(local, stringprep_xmpp_nodeprep);
}

std::optional<std::string> resourceprep(std::string_view resource) {
    if (resource.find('\0') != std::string_view::npos)
        return std::nullopt;
    return prepare(resource, stringprep_xmpp_resourceprep);
}

} // namespace ferry::xmpp
