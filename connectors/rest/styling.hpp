#pragma once

#include "connectors/rest/template.hpp"

#include <string>
#include <string_view>

namespace ferry::connectors::rest {

/// Writes XMPP text with XEP-0393 message styling (*strong*, _emphasis_, ~strike~, `code`, ``` blocks,
/// > quotes) in the markup of `escape`, escaping everything else so that it shows as typed. Escape::url
/// percent-encodes; Escape::plain returns the text unchanged.
std::string styled(std::string_view text, Escape escape);

/// Slack mrkdwn as XEP-0393 text: entities decoded, links `<url|label>` as `label <url>`, user and channel
/// references as `@name` / `#name`; the styling directives are the same in both.
std::string from_mrkdwn(std::string_view text);
/// Markdown (Mattermost, Rocket.Chat, Discord) as XEP-0393 text: **strong** → *strong*, ~~strike~~ →
/// ~strike~, [label](url) → `label <url>`, backslash escapes removed.
std::string from_markdown(std::string_view text);

} // namespace ferry::connectors::rest
