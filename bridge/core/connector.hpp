#pragma once

#include "bridge/core/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {

/// One message to deliver, as the outbox hands it over.
struct Delivery {
    std::string idempotency_key; ///< the same on every attempt: receivers use it to drop duplicates
    std::string destination;     ///< the remote address (channel, mailbox, file, ...)
    std::string conversation;    ///< deliveries of one conversation arrive in order
    core::Message message;
    int attempt = 1; ///< 1 for the first try
};

/// What became of one delivery attempt.
struct DeliveryResult {
    enum class Outcome {
        delivered, ///< done; remote_id names it on the other side (may be empty)
        retry,     ///< a transient failure: try again later (after retry_after when the service said so)
        failed,    ///< will never work: dead letter, and the sender is told why
    };
    Outcome outcome = Outcome::delivered;
    std::string remote_id;
    std::string error;
    std::optional<std::chrono::milliseconds> retry_after;
    /// Where remote_id is recorded in message_map (its `conversation`); empty: the delivery's destination.
    std::string remote_conversation;
    /// The system remote_id belongs to in message_map; empty: the row's connector. XMPP delivery says
    /// "xmpp", so that an XMPP reply naming the stanza finds what it answers on the service.
    std::string remote_system;
    /// More conversations to record remote_id under (an alert message: one per alert it announces).
    std::vector<std::string> also_recorded_under;
    /// The first message of the thread it was posted into (a chat service's thread_ts), so that a reply to it
    /// goes there too.
    std::string thread_root;

    static DeliveryResult delivered(std::string remote_id = {}, std::string remote_conversation = {}) {
        return {Outcome::delivered, std::move(remote_id), {}, {}, std::move(remote_conversation), {}, {}, {}};
    }
    static DeliveryResult retry(std::string error, std::optional<std::chrono::milliseconds> after = {}) {
        return {Outcome::retry, {}, std::move(error), after, {}, {}, {}, {}};
    }
    static DeliveryResult failed(std::string error) {
        return {Outcome::failed, {}, std::move(error), {}, {}, {}, {}, {}};
    }
};

/// A remote system Ferry delivers to. Implementations never throw from send(): every failure is a result.
class Connector {
public:
    virtual ~Connector() = default;
    /// Delivers one message; the dispatcher calls it for one conversation at a time, in order.
    virtual boost::asio::awaitable<DeliveryResult> send(const Delivery& delivery) = 0;
    /// Delivers the claimed rows of one conversation, in order: one result per row attempted. The rows after
    /// the last result are not attempted (they wait for the next round). By default send() one at a time,
    /// stopping after the first retry; a connector may instead coalesce several rows into one message.
    virtual boost::asio::awaitable<std::vector<DeliveryResult>>
    send_batch(std::vector<const Delivery*> deliveries) {
        std::vector<DeliveryResult> results;
        for (const Delivery* delivery : deliveries) {
            DeliveryResult result = co_await send(*delivery);
            const bool stop = result.outcome == DeliveryResult::Outcome::retry;
            results.push_back(std::move(result));
            if (stop)
                break;
        }
        co_return results;
    }
};

} // namespace ferry::core
