#pragma once

#include "connectors/formats/template.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::formats {

/// Writes XMPP text with XEP-0393 message styling (*strong*, _emphasis_, ~strike~, `code`, ``` blocks,
/// > quotes) in the markup of `escape`, escaping everything else so that it shows as typed. Escape::url
/// percent-encodes; Escape::plain returns the text unchanged.
std::string styled(std::string_view text, Escape escape);

/// Slack mrkdwn as XEP-0393 text: entities decoded, links `<url|label>` as `label <url>`, user and channel
/// references as `@name` / `#name`; the styling directives are the same in both.
std::string from_mrkdwn(std::string_view text);
/// Markdown (Mattermost, Rocket.Chat, Discord, Element) as XEP-0393 text: **strong** → *strong*, ~~strike~~ →
/// ~strike~, [label](url) → `label <url>`, backslash escapes removed; code spans and blocks stay as written.
std::string from_markdown(std::string_view text);

/// A formatted range of a message text, as Telegram sends them beside the text (MessageEntity).
struct TextEntity {
    std::string type;       ///< bold, italic, strikethrough, code, pre, text_link; others stay plain text
    std::size_t offset = 0; ///< in UTF-16 code units, as Telegram counts
    std::size_t length = 0; ///< in UTF-16 code units
    std::string url;        ///< of a text_link
};
/// Text with its formatting entities as XEP-0393 text: bold → *…*, italic → _…_, strikethrough → ~…~,
/// code → `…`, pre → a ``` block on lines of its own, text_link → `label <url>`. A directive hugs the text
/// (white space at a range's ends stays outside), nested ranges nest.
std::string from_entities(std::string_view text, const std::vector<TextEntity>& entities);

} // namespace ferry::formats
