#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::connectors::email {

/// A reply's text without what the XMPP user already has: the quote of the mail it answers and the
/// writer's signature.
struct TrimmedReply {
    std::string text;          ///< what the writer wrote
    std::size_t lines_cut = 0; ///< lines of quote and signature left out; 0: nothing was cut
};

/// Cuts, from the first of them on: an attribution line as the common mail clients write it ("On … wrote:",
/// "Am … schrieb …:", "Le … a écrit :", "El … escribió:", "Il … ha scritto:", "Op … schreef …:",
/// "Em … escreveu:", "W dniu … napisał(a):", also broken over two lines), Outlook's header block
/// ("-----Original Message-----", or From: followed by Sent:/Date: and To:/Subject:), a signature after
/// "-- "; then a block of '>' lines at the end. Quotes between the writer's own lines (answers
/// interleaved with the questions) stay. Nothing is cut when nothing of the writer's own would remain.
TrimmedReply trim_reply(std::string_view text);

} // namespace ferry::connectors::email
