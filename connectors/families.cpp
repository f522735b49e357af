#include "connectors/families.hpp"

#include "connectors/alerts/alerts_family.hpp"
#include "connectors/email/email_family.hpp"
#include "connectors/log/log_family.hpp"
#include "connectors/rest/rest_family.hpp"
#include "connectors/webhook/webhook_family.hpp"

namespace ferry::connectors {

const core::FamilyList& families() {
    static const log::LogFamily log_family;
    static const alerts::AlertsFamily alerts_family;
    static const webhook::WebhookFamily webhook_family;
    static const rest::RestFamily rest_family;
    static const email::EmailFamily email_family;
    // A new family: its folder (CMakeLists.txt builds every source under connectors/) and one entry here.
    static const core::FamilyList list(
        {&log_family, &alerts_family, &webhook_family, &rest_family, &email_family});
    return list;
}

} // namespace ferry::connectors
