#pragma once

#include <string>

namespace ferry::pg {

/// The connection string (libpq URI "postgresql://…" or "key=value …" form) rewritten for logs: the options
/// it sets, as key='value' pairs, with every secret libpq knows of (password, sslpassword) shown as ***.
/// Returns "<invalid connection string>" when libpq cannot parse it, because its complaint may quote the
/// password.
std::string redact_conninfo(const std::string& conninfo);

/// Throws std::invalid_argument when libpq cannot parse the connection string. The message names the
/// problem without quoting the string, so it is safe to print.
void check_conninfo(const std::string& conninfo);

} // namespace ferry::pg
