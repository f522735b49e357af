#pragma once

#include "bridge/store/accounts/secret_box.hpp"

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::pg {
class Connection;
}

namespace ferry::store {

/// A JID's registration with a connector (the `accounts` table): who the JID is on the remote side and,
/// when the service needs one, the credential Ferry uses on its behalf.
struct Account {
    std::int64_t id = 0;
    std::string jid; ///< bare
    std::int64_t connector_id = 0;
    std::string remote_identity;
    std::optional<std::string> secret; ///< in clear; only ever held in memory
    nlohmann::json settings = nlohmann::json::object();
};

/// What an account's sealed secret is bound to: the connector and the JID.
std::string secret_context(std::int64_t connector_id, std::string_view jid);

/// Writes a new account, its secret sealed with `box` (which may be null when there is no secret); returns
/// its id, or nullopt when the JID already has an account with that connector. std::invalid_argument when
/// there is a secret but no box.
boost::asio::awaitable<std::optional<std::int64_t>> add_account(pg::Connection& db, const SecretBox* box,
                                                                const Account& account);

/// The account of `jid` with a connector, its secret opened with `box`; nullopt when there is none.
/// SecretBoxError when the secret does not open (or there is a secret and no box).
boost::asio::awaitable<std::optional<Account>> load_account(pg::Connection& db, const SecretBox* box,
                                                            std::string_view jid, std::int64_t connector_id);

} // namespace ferry::store
