#include "bridge/pg/transaction.hpp"

#include "bridge/pg/error.hpp"
#include "bridge/pg/pool.hpp"

namespace ferry::pg {

namespace asio = boost::asio;

asio::awaitable<void> with_transaction(Connection& connection, TransactionBody body) {
    co_await connection.execute("BEGIN");
    std::exception_ptr failure;
    try {
        co_await body(connection);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        if (connection.is_open() && !connection.busy()) {
            try {
                co_await connection.execute("ROLLBACK");
            } catch (const Error&) {
                connection.close(); // never hand on a session stuck in a transaction
            }
        }
        std::rethrow_exception(failure);
    }
    const Result commit = co_await connection.execute("COMMIT");
    if (commit.command_status() == "ROLLBACK")
        throw Error("the transaction failed and was rolled back at COMMIT", "25P02");
}

asio::awaitable<void> with_transaction(Lease& lease, TransactionBody body) {
    co_await with_transaction(*lease, std::move(body));
}

} // namespace ferry::pg
