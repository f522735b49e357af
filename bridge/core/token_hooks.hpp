#pragma once

#include "bridge/core/family.hpp"

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

namespace ferry::core {

class Logger;

/// What hooks that Ferry authenticates by the connector's own settings share (alerting tools, generic JSON):
/// a POST, then the `token` presented as `Authorization: Bearer`, the password of `Authorization: Basic`,
/// `X-Ferry-Token` or the path segment after the hook's name (`/hooks/<name>/<token>`), and, when the kind
/// takes a `secret`, a GitHub-style `X-Hub-Signature-256` of the body; a connector with neither takes nothing
/// unless its operator said `auth=none`. Refuses (logged) what fails; hands the body parsed as JSON to
/// `read`.
HookReading read_token_hook(const HookCall& call, Logger& logger,
                            const std::function<HookReading(const nlohmann::json& body)>& read);

/// The settings of a kind whose hook read_token_hook checks: `token` (secret) and `auth`.
SettingSpec token_setting();
SettingSpec auth_setting();

/// The reading of a token hook whose body became `arrival` (its `entries` messages): `{"status": "accepted",
/// "messages": N}` once committed, `{"status": "duplicate", "messages": 0}` for a resend.
HookReading accepted_reading(Arrival arrival);
/// A refusal with a JSON reason, nothing enqueued.
HookReading refused_reading(int status, const std::string& reason);

/// The connector's `dedup_window` setting in seconds (default 300): how long a resent notification counts as
/// a duplicate.
std::chrono::seconds dedup_window(const store::Connector& connector);

} // namespace ferry::core
