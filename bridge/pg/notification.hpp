#pragma once

#include <string>

namespace ferry::pg {

/// One NOTIFY received on a channel the connection LISTENs to.
struct Notification {
    std::string channel;
    std::string payload; ///< empty when the sender gave none
    int backend_pid = 0; ///< the server process that sent it
};

} // namespace ferry::pg
