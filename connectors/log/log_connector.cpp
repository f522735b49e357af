#include "connectors/log/log_connector.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unistd.h>

namespace ferry::connectors {

LogConnector::LogConnector(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "cannot open " + path_);
}

LogConnector::~LogConnector() {
    if (fd_ >= 0)
        ::close(fd_);
}

boost::asio::awaitable<DeliveryResult> LogConnector::send(const Delivery& delivery) {
    nlohmann::json line = {
        {"idempotency_key", delivery.idempotency_key}, {"destination", delivery.destination},
        {"conversation", delivery.conversation},       {"attempt", delivery.attempt},
        {"delivered_at", core::utc_timestamp()},       {"message", core::to_json(delivery.message)}};
    // One write() with O_APPEND keeps lines whole even with several Ferry processes on one file. A local
    // append is short enough not to need a thread.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            co_return DeliveryResult::retry("cannot write to " + path_ + ": " + std::strerror(errno));
        written += static_cast<std::size_t>(n);
    }
    co_return DeliveryResult::delivered(delivery.idempotency_key);
}

} // namespace ferry::connectors
