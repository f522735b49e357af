// Account secrets against a real PostgreSQL: stored sealed, read back in clear with the key, refused with
// another key or in another account's row. Run with scripts/testworld/run-pg-tests.sh BUILD_DIR.
#include "bridge/base/logger.hpp"
#include "bridge/store/accounts/account_store.hpp"
#include "bridge/store/migrations.hpp"
#include "tests/support/pg_test_support.hpp"

#include <gtest/gtest.h>

namespace ferry::store {
namespace {

namespace asio = boost::asio;
using pg_test::require;
using pg_test::scalar;

const SecretBox key_a = SecretBox::from_base64("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=");
const SecretBox key_b = SecretBox::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");

class PgAccountStore : public pg_test::PgTest {
protected:
    void TearDown() override {
        if (url.empty())
            return;
        run([&]() -> asio::awaitable<void> {
            pg::Connection c(context.get_executor(), url);
            co_await c.connect();
            co_await c.execute("DELETE FROM connectors WHERE name = 'account-test'");
        });
    }
};

TEST_F(PgAccountStore, SecretIsStoredSealedAndOpensOnlyWithItsKeyAndRow) {
    run([&]() -> asio::awaitable<void> {
        core::Logger logger(core::LogLevel::error);
        pg::Connection db(context.get_executor(), url);
        co_await db.connect();
        co_await migrate(db, logger);
        const std::int64_t connector = std::stoll(co_await scalar(
            db, "INSERT INTO connectors (name, kind) VALUES ('account-test', 'test') RETURNING id"));

        Account alice;
        alice.jid = "alice@example.org";
        alice.connector_id = connector;
        alice.remote_identity = "alice@mail.example.org";
        alice.secret = "correct horse battery staple";
        alice.settings = {{"folder", "INBOX"}};
        const auto id = co_await add_account(db, &key_a, alice);
        require(id.has_value(), "the account was added");
        EXPECT_FALSE((co_await add_account(db, &key_a, alice)).has_value()) << "a second account was added";

        // What a database dump shows: neither the secret nor any piece of it.
        const std::string stored = co_await scalar(
            db, "SELECT encode(secret_ciphertext, 'escape') FROM accounts WHERE id = $1::bigint",
            pg::params(std::to_string(*id)));
        EXPECT_EQ(stored.find("horse"), std::string::npos) << stored;

        const std::optional<Account> loaded =
            co_await load_account(db, &key_a, "alice@example.org", connector);
        require(loaded.has_value(), "the account is found");
        EXPECT_EQ(loaded->secret, alice.secret);
        EXPECT_EQ(loaded->remote_identity, "alice@mail.example.org");
        EXPECT_EQ(loaded->settings, alice.settings);
        EXPECT_FALSE((co_await load_account(db, &key_a, "nobody@example.org", connector)).has_value());

        bool refused = false;
        try {
            co_await load_account(db, &key_b, "alice@example.org", connector);
        } catch (const SecretBoxError&) {
            refused = true;
        }
        EXPECT_TRUE(refused) << "another key opened the secret";

        // Mallory copies alice's sealed secret into her own row: it must not open as hers.
        Account mallory = alice;
        mallory.jid = "mallory@example.org";
        mallory.secret.reset();
        co_await add_account(db, nullptr, mallory);
        co_await db.execute("UPDATE accounts SET secret_ciphertext = (SELECT secret_ciphertext FROM accounts "
                            "WHERE jid = 'alice@example.org') WHERE jid = 'mallory@example.org'");
        refused = false;
        try {
            co_await load_account(db, &key_a, "mallory@example.org", connector);
        } catch (const SecretBoxError&) {
            refused = true;
        }
        EXPECT_TRUE(refused) << "a secret copied to another account opened there";

        refused = false;
        try {
            co_await add_account(db, nullptr, alice); // a secret and no key
        } catch (const std::invalid_argument&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
    });
}

} // namespace
} // namespace ferry::store
