#include "bridge/store/accounts/account_store.hpp"

#include "bridge/pg/connection.hpp"
#include "bridge/store/accounts/base64.hpp"

#include <stdexcept>

namespace ferry::store {

namespace asio = boost::asio;

std::string secret_context(std::int64_t connector_id, std::string_view jid) {
    return "ferry account secret\nconnector " + std::to_string(connector_id) + "\njid " + std::string(jid);
}

asio::awaitable<std::optional<std::int64_t>> add_account(pg::Connection& db, const SecretBox* box,
                                                         const Account& account) {
    std::optional<std::string> sealed;
    if (account.secret) {
        if (!box)
            throw std::invalid_argument(
                "storing a secret needs database.secret_key (32 random bytes in base64, "
                "e.g. from `openssl rand -base64 32`)");
        sealed = to_base64(box->seal(*account.secret, secret_context(account.connector_id, account.jid)));
    }
    const pg::Result r = co_await db.execute(
        "INSERT INTO accounts (jid, connector_id, remote_identity, secret_ciphertext, settings) "
        "VALUES ($1, $2::bigint, $3, decode($4, 'base64'), $5::jsonb) "
        "ON CONFLICT (jid, connector_id) DO NOTHING RETURNING id",
        pg::params(account.jid, std::to_string(account.connector_id), account.remote_identity, sealed,
                   account.settings.dump()));
    if (r.rows() == 0)
        co_return std::nullopt;
    co_return std::stoll(std::string(*r.get(0, 0)));
}

asio::awaitable<std::optional<Account>> load_account(pg::Connection& db, const SecretBox* box,
                                                     std::string_view jid, std::int64_t connector_id) {
    const pg::Result r =
        co_await db.execute("SELECT id, jid, connector_id, remote_identity, "
                            "translate(encode(secret_ciphertext, 'base64'), E'\\n', ''), "
                            "settings::text FROM accounts WHERE jid = $1 AND connector_id = $2::bigint",
                            pg::params(std::string(jid), std::to_string(connector_id)));
    if (r.rows() == 0)
        co_return std::nullopt;
    Account account;
    account.id = std::stoll(std::string(*r.get(0, 0)));
    account.jid = std::string(*r.get(0, 1));
    account.connector_id = std::stoll(std::string(*r.get(0, 2)));
    account.remote_identity = std::string(*r.get(0, 3));
    account.settings = nlohmann::json::parse(*r.get(0, 5));
    if (const auto sealed = r.get(0, 4)) {
        if (!box)
            throw SecretBoxError("account " + account.jid +
                                 " has a secret, but database.secret_key is not set");
        account.secret = box->open(from_base64(*sealed), secret_context(account.connector_id, account.jid));
    }
    co_return account;
}

} // namespace ferry::store
