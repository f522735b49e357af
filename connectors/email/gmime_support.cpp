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

} // namespace

void use_gmime() {
    static const GMimeLibrary library; // started on first use, thread-safely; shut down at exit
}

} // namespace ferry::connectors::email
