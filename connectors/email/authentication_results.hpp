#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::connectors::email {

/// The result (pass, fail, none, …, lowercase) of `method` (such as dmarc) in the first of a mail's
/// Authentication-Results fields (RFC 8601), topmost first as they stand in the mail, written under
/// `authserv_id` (case-blind): the results of the MTA that names itself so, which removes fields claiming
/// its name from the mail it receives. Fields of any other authserv-id are ignored: anyone can write them.
/// nullopt when no such field reports the method.
std::optional<std::string> authentication_result(const std::vector<std::string>& fields,
                                                 std::string_view authserv_id, std::string_view method);

} // namespace ferry::connectors::email
