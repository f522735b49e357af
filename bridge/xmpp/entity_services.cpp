#include "bridge/xmpp/entity_services.hpp"

#include "bridge/xmpp/namespaces.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/stanza_error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

namespace ferry::xmpp {

std::vector<std::string> advertised_features() {
    return {std::string(ns::disco_info), std::string(ns::disco_items), std::string(ns::version),
            std::string(ns::ping), std::string(ns::time)};
}

namespace {

/// XEP-0202 <time/>: the UTC instant and the local offset from UTC.
XmlNode entity_time() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    std::tm utc{};
    std::tm local{};
    gmtime_r(&seconds, &utc);
    localtime_r(&seconds, &local);
    const long offset_minutes = local.tm_gmtoff / 60;
    char tzo[32];
    std::snprintf(tzo, sizeof tzo, "%c%02ld:%02ld", offset_minutes < 0 ? '-' : '+',
                  std::labs(offset_minutes) / 60, std::labs(offset_minutes) % 60);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    XmlNode time("time", std::string(ns::time));
    time.add_child("tzo").set_text(tzo);
    time.add_child("utc").set_text(stamp);
    return time;
}

} // namespace

void register_entity_services(StanzaDispatcher& dispatcher, EntityIdentity identity) {
    auto shared_identity = std::make_shared<const EntityIdentity>(std::move(identity));

    dispatcher.on_domain_iq("get", ns::disco_info, [&dispatcher, shared_identity](const InboundStanza& iq) {
        const XmlNode& query = *iq.node.first_child();
        if (query.has_attribute("node")) {
            dispatcher.send(make_error_reply(iq.node, "item-not-found", "no such node"));
            return;
        }
        XmlNode reply = make_iq_result(iq.node);
        XmlNode& answer = reply.add_child("query", std::string(ns::disco_info));
        answer.add_child("identity")
            .set_attribute("category", shared_identity->category)
            .set_attribute("type", shared_identity->type)
            .set_attribute("name", shared_identity->name);
        for (const auto& extra : dispatcher.advertised_identities())
            answer.add_child("identity")
                .set_attribute("category", extra.category)
                .set_attribute("type", extra.type)
                .set_attribute("name", extra.name);
        std::vector<std::string> features = advertised_features();
        features.insert(features.end(), dispatcher.advertised_features().begin(),
                        dispatcher.advertised_features().end());
        std::sort(features.begin(), features.end());
        features.erase(std::unique(features.begin(), features.end()), features.end());
        for (auto& feature : features)
            answer.add_child("feature").set_attribute("var", std::move(feature));
        dispatcher.send(reply);
    });

    dispatcher.on_domain_iq("get", ns::disco_items, [&dispatcher](const InboundStanza& iq) {
        const XmlNode& query = *iq.node.first_child();
        if (query.has_attribute("node")) {
            dispatcher.send(make_error_reply(iq.node, "item-not-found", "no such node"));
            return;
        }
        XmlNode reply = make_iq_result(iq.node);
        reply.add_child("query", std::string(ns::disco_items));
        dispatcher.send(reply);
    });

    dispatcher.on_domain_iq("get", ns::version, [&dispatcher, shared_identity](const InboundStanza& iq) {
        XmlNode reply = make_iq_result(iq.node);
        XmlNode& query = reply.add_child("query", std::string(ns::version));
        query.add_child("name").set_text(shared_identity->name);
        query.add_child("version").set_text(shared_identity->software_version);
        dispatcher.send(reply);
    });

    dispatcher.on_domain_iq("get", ns::ping, [&dispatcher](const InboundStanza& iq) {
        dispatcher.send(make_iq_result(iq.node));
    });

    dispatcher.on_domain_iq("get", ns::time, [&dispatcher](const InboundStanza& iq) {
        XmlNode reply = make_iq_result(iq.node);
        reply.add_child(entity_time());
        dispatcher.send(reply);
    });
}

} // namespace ferry::xmpp
