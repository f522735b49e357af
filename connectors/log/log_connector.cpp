#include "connectors/log/log_connector.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace ferry::connectors {

LogConnector::LogConnector(std::string path) : path_(std::move(path)) {
    open_file();
}

bool LogConnector::open_file() {
    if (fd_ < 0)
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd_ >= 0;
}

LogConnector::~LogConnector() {
    if (fd_ >= 0)
        ::close(fd_);
}

boost::asio::awaitable<DeliveryResult> LogConnector::send(const Delivery& delivery) {
    // A file that cannot be opened yet (its folder not made, no permission) is tried again with the
    // message, which waits in the outbox meanwhile.
    if (!open_file())
        co_return DeliveryResult::retry("cannot open " + path_ + ": " + std::strerror(errno));
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
