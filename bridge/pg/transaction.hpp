#pragma once

#include "bridge/pg/connection.hpp"

#include <boost/asio/awaitable.hpp>
#include <functional>

namespace ferry::pg {

class Lease;

/// The work done inside a transaction; it receives the connection the transaction runs on.
using TransactionBody = std::function<boost::asio::awaitable<void>(Connection&)>;

/// Runs `body` between BEGIN and COMMIT. When `body` throws, the transaction is rolled back (or, if the
/// connection broke, left to die with it) and the exception is rethrown. A COMMIT that PostgreSQL turned
/// into a rollback, because `body` swallowed an SQL error, throws Error with SQLSTATE 25P02.
boost::asio::awaitable<void> with_transaction(Connection& connection, TransactionBody body);
/// The same on a pooled connection.
boost::asio::awaitable<void> with_transaction(Lease& lease, TransactionBody body);

} // namespace ferry::pg
