// Delivery status notifications (RFC 3464) as Ferry reads them to tell an XMPP sender why a mail bounced:
// Postfix's layout, a report nested in a multipart/mixed, delays, folded diagnostics, and mail that is
// no report at all.
#include "connectors/email/delivery_failure.hpp"
#include "connectors/email/delivery_report.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::email {
namespace {

const std::string status_fields =
    "Reporting-MTA: dns; mx.test\r\nX-Postfix-Queue-ID: 4F1C2A765CA\r\nArrival-Date: Tue,  8 Dec 2026\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nobody@example.com\r\nOriginal-Recipient: rfc822;nobody@example.com\r\n"
    "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; 127.0.0.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com> User doesn't\r\n    exist: nobody@example.com\r\n"
    "\r\n"
    "Final-Recipient: rfc822; slow@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
    "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:24: Connection refused\r\n";

std::string report(std::string_view inner_fields) {
    return "From: MAILER-DAEMON@mx.test (Mail Delivery System)\r\nTo: bounces+abc@chat.test\r\n"
           "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: "
           "1.0\r\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n"
           "--R\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you...\r\n"
           "--R\r\nContent-Type: message/delivery-status\r\n\r\n" +
           std::string(inner_fields) +
           "\r\n--R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice <alice@chat.test>\r\n"
           "Subject: Chat with alice\r\n\r\n--R--\r\n";
}

TEST(DeliveryReport, PostfixLayoutGivesEveryRecipientWithStatusAndTheServersWords) {
    const auto read = read_delivery_report(report(status_fields));
    ASSERT_TRUE(read);
    EXPECT_EQ(read->reporting_mta, "mx.test");
    ASSERT_EQ(read->recipients.size(), 2U);
    const RecipientReport& failed = read->recipients[0];
    EXPECT_EQ(failed.recipient, "nobody@example.com");
    EXPECT_EQ(failed.action, "failed");
    EXPECT_EQ(failed.status, "5.1.1");
    EXPECT_EQ(failed.diagnostic, "550 5.1.1 <nobody@example.com> User doesn't exist: nobody@example.com");
    EXPECT_TRUE(failed.permanent());
    EXPECT_FALSE(failed.success());
    const RecipientReport& delayed = read->recipients[1];
    EXPECT_EQ(delayed.recipient, "slow@example.com");
    EXPECT_EQ(delayed.action, "delayed");
    EXPECT_FALSE(delayed.permanent());
    EXPECT_EQ(delayed.diagnostic, "connect to 127.0.0.1[127.0.0.1]:24: Connection refused");
}

TEST(DeliveryReport, FoundWhenNestedInAMixedMultipartAndWithCommentsAfterTheStatus) {
    const std::string inner =
        "Reporting-MTA: dns;mail.example.net\r\n\r\nFinal-Recipient: RFC822; Carol@Example.COM\r\n"
        "Action: Failed\r\nStatus: 5.0.0 (permanent failure)\r\n";
    const std::string mail =
        "From: postmaster@example.net\r\nTo: bounces+abc@chat.test\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\nContent-Type: text/plain\r\n\r\nSee the "
        "report.\r\n"
        "--M\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "UmVwb3J0aW5nLU1UQTogZG5zO21haWwuZXhhbXBsZS5uZXQNCg0KRmluYWwtUmVjaXBpZW50OiBSRkM4MjI7IENhcm9sQEV4YW1w"
        "bGUuQ09NDQpBY3Rpb246IEZhaWxlZA0KU3RhdHVzOiA1LjAuMCAocGVybWFuZW50IGZhaWx1cmUpDQo=\r\n"
        "--R--\r\n--M--\r\n";
    const auto read = read_delivery_report(mail);
    ASSERT_TRUE(read) << inner;
    ASSERT_EQ(read->recipients.size(), 1U);
    EXPECT_EQ(read->recipients[0].recipient, "Carol@Example.COM");
    EXPECT_EQ(read->recipients[0].action, "failed");
    EXPECT_EQ(read->recipients[0].status, "5.0.0");
    EXPECT_TRUE(read->recipients[0].permanent());
}

TEST(DeliveryReport, AnOrdinaryMailOrAReportInsideAnAttachedMessageIsNone) {
    EXPECT_FALSE(read_delivery_report("From: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n"));
    const std::string forwarded = "From: bob@example.com\r\nMIME-Version: 1.0\r\n"
                                  "Content-Type: message/rfc822\r\n\r\n" +
                                  report(status_fields);
    EXPECT_FALSE(read_delivery_report(forwarded));
    EXPECT_FALSE(read_delivery_report(""));
    EXPECT_FALSE(read_delivery_report("\x01\x02 not a mail at all"));
}

TEST(DeliveryReport, BrokenFieldsAreReadAsFarAsTheyGo) {
    const auto read =
        read_delivery_report(report("garbage without colon\r\n\r\nAction: failed\r\n\r\n: :\r\n"));
    ASSERT_TRUE(read);
    ASSERT_EQ(read->recipients.size(), 1U);
    EXPECT_EQ(read->recipients[0].recipient, "");
    EXPECT_TRUE(read->recipients[0].permanent());
}

const SentMail sent{"lost1", "alice@example.org", "nobody@example.com"};

TEST(DeliveryFailure, AHardBounceIsAReplyToTheMessageNamingRecipientStatusAndTheServersWords) {
    const auto read = read_delivery_report(report(status_fields));
    const auto told = delivery_failure(sent, &*read, "");
    ASSERT_TRUE(told);
    EXPECT_EQ(told->kind, "reply");
    EXPECT_EQ(told->refers_to, "lost1");
    EXPECT_EQ(told->from, "nobody@example.com");
    EXPECT_EQ(told->to, "alice@example.org");
    EXPECT_EQ(told->text, "Your message to nobody@example.com could not be delivered: 550 5.1.1 "
                          "<nobody@example.com> User doesn't exist: nobody@example.com (status 5.1.1, "
                          "permanent: it will not be delivered)");
}

TEST(DeliveryFailure, ADelayIsToldAsTemporaryAndASuccessIsNotToldAtAll) {
    const auto read = read_delivery_report(report(status_fields));
    const auto told = delivery_failure(SentMail{"s1", "alice@example.org", "SLOW@example.com"}, &*read, "");
    ASSERT_TRUE(told);
    EXPECT_EQ(told->text, "Your message to SLOW@example.com has not been delivered yet: connect to "
                          "127.0.0.1[127.0.0.1]:24: Connection refused (status 4.4.1, temporary: the mail "
                          "system keeps trying)");
    const auto success = read_delivery_report(report("Reporting-MTA: dns; mx.test\r\n\r\n"
                                                     "Final-Recipient: rfc822; nobody@example.com\r\n"
                                                     "Action: delivered\r\nStatus: 2.0.0\r\n"));
    EXPECT_FALSE(delivery_failure(sent, &*success, ""));
}

TEST(DeliveryFailure, AReturnedMailWithoutAStatusPartIsAFailureWithItsText) {
    const auto told = delivery_failure(sent, nullptr, "This message could not be delivered.\nUnknown user.");
    ASSERT_TRUE(told);
    EXPECT_EQ(told->text, "Your message to nobody@example.com could not be delivered: This message could not "
                          "be delivered.\nUnknown user.");
}

} // namespace
} // namespace ferry::connectors::email
