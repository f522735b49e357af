#pragma once

#include "bridge/core/family.hpp"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ferry::connectors::email {

/// How Ferry talks to the relay: STARTTLS on a submission port, TLS from the first byte (port 465), or in
/// the clear (a relay on the same host).
enum class RelayTls { starttls, implicit, none };

/// A mail connector's settings, read and checked.
struct EmailSettings {
    std::string mail_domain; ///< of return paths and Message-IDs: a domain the MTA routes to Ferry
    std::string relay_host;  ///< empty: the connector only receives
    std::uint16_t relay_port = 587;
    RelayTls relay_tls = RelayTls::starttls;
    std::string relay_ca; ///< a CA file to verify the relay by; empty: the system's
    std::string user;     ///< for AUTH; empty: none
    std::string password;
    std::string listen_address; ///< the listener for the MTA; empty: the connector receives no mail
    std::uint16_t listen_port = 0;
    bool listen_smtp = false; ///< the listener speaks SMTP instead of LMTP
    std::size_t max_size = 26214400;
    /// The authserv-id under which the MTA writes Authentication-Results (RFC 8601); empty: none is read.
    std::string authserv_id;
    bool mark_dmarc_failures = false; ///< show mail that fails DMARC, marked, rather than refuse it
    bool trim_replies = true;         ///< replies shown without the quoted mail and the signature
};

/// The settings the email kind takes, for `ferry help kinds` and the command line's checks.
std::vector<core::SettingSpec> setting_specs();
/// Reads a connector's settings; throws std::invalid_argument with the reason when one is wrong.
EmailSettings read_settings(const nlohmann::json& settings);

} // namespace ferry::connectors::email
