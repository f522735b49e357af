#pragma once

#include "bridge/core/connector.hpp"
#include "bridge/core/inlet.hpp"
#include "bridge/http/http_types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::http {
class Client;
}
namespace ferry::pg {
class Pool;
}
namespace ferry::store {
class MappingStore;
class MappingSnapshot;
struct Connector;
struct Mapping;
} // namespace ferry::store
namespace ferry::xmpp {
class StanzaDispatcher;
struct InboundStanza;
} // namespace ferry::xmpp

// The family contract: what one folder under connectors/ gives the core, and what the core gives it. The core
// runs families it knows only through this header; connectors/families.cpp lists them.
namespace ferry::core {

class Logger;
class Metrics;

/// One setting a connector kind takes (`ferry connector add|set NAME --setting name=value`).
struct SettingSpec {
    std::string name;
    bool required = false;
    bool secret = false;       ///< shown as <redacted> unless asked for by name (`connector show --reveal`)
    std::string default_value; ///< used when the connector does not set it
    std::string help;
};

/// A kind of connector: what it does and every setting it takes. The one description the command line checks
/// settings against, redacts by and prints in `ferry help kinds`.
struct KindSpec {
    std::string name;
    std::string summary; ///< one line, for `ferry help` and errors
    std::vector<SettingSpec> settings;
    bool receives = false; ///< serves /hooks/<connector name>: mappings may take direction `in`
    bool sends = false;    ///< delivers messages from XMPP: mappings may take direction `out`
    /// For a kind whose hook Ferry authenticates by its own token (or signature): the settings that do so.
    /// One must be set, or `auth=none` given, so that no hook is open by accident.
    std::vector<std::string> authenticated_by;
    /// What `ferry connector add|set` checks beyond names, presence and non-empty values; throws
    /// std::invalid_argument with the reason. May be empty.
    std::function<void(const nlohmann::json& settings)> check_settings;
    /// What `ferry mapping add` checks of a mapping to a connector of this kind: its XMPP address (a bare
    /// JID), its direction (in, out, both) and its remote address; throws std::invalid_argument with the
    /// reason. May be empty.
    std::function<void(std::string_view xmpp, std::string_view direction, std::string_view remote)>
        check_mapping;

    /// The setting named `name`, or null.
    const SettingSpec* setting(std::string_view name) const;
};

/// The value of the setting `auth` by which an operator says a hook takes requests without authentication.
inline constexpr std::string_view no_authentication = "none";
/// True when a connector with these settings was told to take requests without authentication (auth=none).
bool open_by_choice(const nlohmann::json& settings);
/// True when one of the kind's authenticating settings is set to a non-empty value.
bool authenticated(const KindSpec& kind, const nlohmann::json& settings);

/// What the core lends a running family: the store, the HTTP client every outbound request goes through, the
/// inlet every arriving message enters the outbox by, the component's stanzas.
struct FamilyContext {
    boost::asio::any_io_executor executor;
    const store::MappingStore& store;
    pg::Pool& pool;
    http::Client& http;
    Inlet& inlet;
    Metrics& metrics; ///< a family counts what only it sees (connector_event)
    /// The component's stanzas: a family that answers IQs to the domain itself (jabber:iq:gateway,
    /// jabber:iq:register) registers them here at start with on_domain_iq.
    xmpp::StanzaDispatcher& stanzas;
    Logger& logger;
    std::string owner; ///< names this process in source leases
    /// The component secret, which every process of a deployment shares: a family derives the keys of what
    /// it signs from it (HMAC with a label of its own), so that they hold across restarts and processes.
    /// Never sent or logged as is.
    std::string secret;
};

/// Where an XMPP user's message to a remote address goes, when a family routes its connectors' messages
/// itself.
struct OutboundRoute {
    const store::Mapping* mapping = nullptr; ///< the mapping that carries it; null: none does
    std::string destination;                 ///< the remote address to deliver to
    /// The outbox conversation (rows of one are delivered in order, one at a time); empty: the mapping's
    /// outbound conversation. A mapping that many users share (a whole domain's) gives each pair of sender
    /// and destination its own, so that one slow recipient holds up nobody else.
    std::string conversation;
};

/// A request to `/hooks/<connector>[/…]` of a connector of the family's kinds (found and enabled).
struct HookCall {
    const store::MappingSnapshot& snapshot;
    const store::Connector& connector;
    const KindSpec& kind; ///< the connector's kind
    const http::Request& request;
    std::string_view subpath; ///< what followed `/hooks/<connector>`
};

/// What a hook request becomes: an answer right away (a refusal, a challenge, nothing to bridge), or an
/// arrival for the inlet and the answers to give once it is committed or found a duplicate.
struct HookReading {
    std::optional<http::Response> answer_now;
    Arrival arrival;
    http::Response on_commit;
    http::Response on_duplicate;
};

/// A family at work in one `ferry run`: made once with the core's context, stopped at the end.
class RunningFamily {
public:
    virtual ~RunningFamily() = default;
    /// The outbound connector of a connector row of one of the family's kinds that sends; nullptr (logged)
    /// when it cannot be made. Made again when the row's settings change.
    virtual std::unique_ptr<Connector> make_connector(const store::Connector& row);
    /// Reads a request to the hook of a connector of a kind that receives. Never throws for bad input: a
    /// refusal is an answer_now with a JSON reason.
    virtual HookReading read_hook(const HookCall& call);
    /// The family's sources (pollers, watchers, listeners) until stop(); returns once they have all ended.
    /// Sources that fetch hold a SourceLease so that one process of a deployment runs each.
    virtual boost::asio::awaitable<void> run_sources();
    virtual void stop() {}
    /// The route of a message from the user `from` (a bare JID) to `remote` of `connector` (one of the
    /// family's), for families whose mappings bind a user to their own address on the remote system (mail:
    /// one sender address, any correspondent) rather than to one remote address. nullopt, the default: the
    /// mapping table decides (a mapping from `from` to exactly `remote`).
    virtual std::optional<OutboundRoute> route_outbound(const store::MappingSnapshot& snapshot,
                                                        const store::Connector& connector,
                                                        std::string_view from, std::string_view remote);
    /// A stanza addressed to one of the family's own addresses (an IQ to a gateway JID); true when it took
    /// it.
    virtual bool handle_stanza(const xmpp::InboundStanza& stanza);
};

/// One folder under connectors/: its kinds and how to run them.
class Family {
public:
    virtual ~Family() = default;
    virtual std::string_view name() const = 0;
    virtual const std::vector<KindSpec>& kinds() const = 0;
    virtual std::unique_ptr<RunningFamily> start(const FamilyContext& context) const = 0;
};

/// The families this binary was built with, and the kinds they offer.
class FamilyList {
public:
    explicit FamilyList(std::vector<const Family*> families);

    const std::vector<const Family*>& families() const { return families_; }
    /// Every kind, family by family.
    std::vector<const KindSpec*> kinds() const;
    const KindSpec* find_kind(std::string_view name) const;
    /// The family that offers the kind `name`, or null.
    const Family* family_of(std::string_view kind) const;
    /// `ferry help kinds`: every kind, what it does and its settings (required and secret ones marked).
    std::string kinds_help() const;
    /// The same as a Markdown table (`ferry help kinds --markdown`, the table in docs/cli.md).
    std::string kinds_table() const;

private:
    std::vector<const Family*> families_;
};

} // namespace ferry::core
