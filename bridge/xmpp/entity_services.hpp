#pragma once

#include <string>
#include <vector>

namespace ferry::xmpp {

class StanzaDispatcher;

/// What the component says about itself in XEP-0030 and XEP-0092 answers.
struct EntityIdentity {
    std::string name = "Ferry";
    std::string category = "gateway";
    std::string type = "generic"; ///< per-connector types (smtp, irc, ...) once connectors exist
    std::string software_version;
};

/// Registers the answers every good XMPP entity gives on its domain: XEP-0030 disco#info and disco#items,
/// XEP-0092 software version, XEP-0199 ping and XEP-0202 entity time. disco#info advertises exactly these.
void register_entity_services(StanzaDispatcher& dispatcher, EntityIdentity identity);

/// The features advertised in disco#info, sorted.
std::vector<std::string> advertised_features();

} // namespace ferry::xmpp
