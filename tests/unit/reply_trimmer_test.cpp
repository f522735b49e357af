// Replies as the XMPP user sees them: what the writer wrote, without the quote of the mail they answer
// (as Gmail, Outlook, Apple Mail and Thunderbird write it, in several languages) and without a signature.
#include "connectors/email/reply_trimmer.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::email {
namespace {

TEST(ReplyTrimmer, AttributionsOfTheCommonClientsInSeveralLanguages) {
    for (const std::string attribution : {
             "On Mon, 7 Dec 2026 at 10:00, Alice <alice@chat.test> wrote:",
             "Am 07.12.2026 um 10:00 schrieb Alice <alice@chat.test>:",
             "Le lun. 7 d\xc3\xa9"
             "c. 2026 \xc3\xa0 10:00, Alice <alice@chat.test> a \xc3\xa9"
             "crit :",
             "El lun, 7 dic 2026 a las 10:00, Alice (<alice@chat.test>) escribi\xc3\xb3:",
             "Il giorno lun 7 dic 2026 alle ore 10:00 Alice <alice@chat.test> ha scritto:",
             "Op ma 7 dec. 2026 om 10:00 schreef Alice <alice@chat.test>:",
             "Em seg., 7 de dez. de 2026 \xc3\xa0s 10:00, Alice <alice@chat.test> escreveu:",
             "W dniu 7.12.2026 o 10:00, Alice <alice@chat.test> napisa\xc5\x82"
             "a:",
             "-----Original Message-----",
         }) {
        const TrimmedReply trimmed = trim_reply("Yes, at noon.\n\n" + attribution + "\n> Lunch?\n> Alice\n");
        EXPECT_EQ(trimmed.text, "Yes, at noon.") << attribution;
        EXPECT_EQ(trimmed.lines_cut, 3U) << attribution;
    }
}

TEST(ReplyTrimmer, AnAttributionBrokenOverTwoLinesAndOutlooksHeaderBlock) {
    EXPECT_EQ(
        trim_reply("Fine.\n\nOn Mon, 7 Dec 2026 at 10:00, Alice Example <alice@chat.test>\nwrote:\n> Lunch?")
            .text,
        "Fine.");
    const TrimmedReply outlook =
        trim_reply("See below.\r\n\r\n________________________________\r\n"
                   "From: Alice <alice@chat.test>\r\nSent: Monday, December 7, 2026\r\n"
                   "To: Bob <bob@example.com>\r\nSubject: Lunch\r\n\r\nLunch?\r\n");
    EXPECT_EQ(outlook.text, "See below.");
}

TEST(ReplyTrimmer, SignaturesAndTrailingQuotesAreCutInterleavedAnswersStay) {
    EXPECT_EQ(trim_reply("Thanks!\n-- \nBob Example\nACME Corp").text, "Thanks!");
    EXPECT_EQ(trim_reply("Sure.\n\n> Can you come?\n> Alice").text, "Sure.");
    const std::string interleaved = "> Lunch?\nYes.\n> Where?\nThe usual place.";
    EXPECT_EQ(trim_reply(interleaved).text, interleaved);
    EXPECT_EQ(trim_reply(interleaved).lines_cut, 0U);
}

TEST(ReplyTrimmer, NothingIsCutWhenNothingOfTheWritersOwnWouldRemain) {
    const std::string forward = "---------- Forwarded message ---------\nFrom: Carol\n\nThe report.";
    EXPECT_EQ(trim_reply(forward).text, forward);
    const std::string only_quote = "On Mon, Alice wrote:\n> Lunch?";
    EXPECT_EQ(trim_reply(only_quote).text, only_quote);
    EXPECT_EQ(trim_reply("").text, "");
    EXPECT_EQ(trim_reply("Just a line").lines_cut, 0U);
}

} // namespace
} // namespace ferry::connectors::email
