#pragma once

#include "bridge/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <string_view>

namespace ferry::store {
class MappingStore;
}

namespace ferry::core {

class Inlet;
class Logger;
class RunningFamilies;

/// `/hooks/<connector>[/…]`: finds the connector, hands the request to the family of its kind, and answers
/// 2xx only once what it read is committed to the outbox (through the inlet). A connector that does not
/// exist, takes no requests or is disabled is a 404; a body of the wrong shape a 400; every refusal is a JSON
/// `{"error": reason}` and enqueues nothing.
class Hooks {
public:
    Hooks(const store::MappingStore& store, RunningFamilies& families, Inlet& inlet, Logger& logger);

    /// `subpath` is what followed `/hooks/<hook>`.
    boost::asio::awaitable<http::Response> handle(const http::Request& request, std::string_view hook,
                                                  std::string_view subpath = {});

private:
    const store::MappingStore& store_;
    RunningFamilies& families_;
    Inlet& inlet_;
    Logger& logger_;
};

} // namespace ferry::core
