// SMTP and LMTP on the wire: replies with enhanced codes both ways, commands and paths, and the mail data's
// dot-stuffing, including data that arrives in pieces and commands pipelined after it.
#include "connectors/email/smtp_codec.hpp"

#include <gtest/gtest.h>

namespace ferry::connectors::email {
namespace {

TEST(SmtpReply, WrittenWithTheEnhancedCodeOnEveryLine) {
    EXPECT_EQ(format_reply(250, "2.1.5", "Ok"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(format_reply(250, "", std::vector<std::string>{"ferry.test", "PIPELINING", "SIZE 1024"}),
              "250-ferry.test\r\n250-PIPELINING\r\n250 SIZE 1024\r\n");
    EXPECT_EQ(format_reply(550, "5.1.1", "<x@y>\r\n250 ok: no such user"),
              "550 5.1.1 <x@y>  250 ok: no such user\r\n")
        << "a line break in the text cannot start another reply";
}

TEST(SmtpReply, ReadWholeAndOneAtATime) {
    std::string buffer = "250-mx.test greets you\r\n250-PIPELINING\r\n250 8BITMIME\r\n354 go ahead\r\n";
    const auto first = ReplyReader::next(buffer);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->code, 250);
    EXPECT_EQ(first->lines, (std::vector<std::string>{"mx.test greets you", "PIPELINING", "8BITMIME"}));
    EXPECT_EQ(buffer, "354 go ahead\r\n");
    const auto second = ReplyReader::next(buffer);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->code, 354);
    EXPECT_TRUE(buffer.empty());

    std::string partial = "550 5.1.1 <nobody@mail.test>: Recipient address rejec";
    EXPECT_FALSE(ReplyReader::next(partial));
    partial += "ted\r\n";
    const auto rejected = ReplyReader::next(partial);
    ASSERT_TRUE(rejected);
    EXPECT_TRUE(rejected->permanent());
    EXPECT_EQ(rejected->enhanced, "5.1.1");
    EXPECT_EQ(rejected->summary(), "550 5.1.1 <nobody@mail.test>: Recipient address rejected");

    std::string bare = "451\r\n";
    const auto short_reply = ReplyReader::next(bare);
    ASSERT_TRUE(short_reply);
    EXPECT_TRUE(short_reply->transient());
    EXPECT_EQ(short_reply->summary(), "451");
    std::string no_enhanced = "220 2.0 is not an enhanced code\r\n";
    EXPECT_EQ(ReplyReader::next(no_enhanced)->enhanced, "");
}

TEST(SmtpReply, WhatIsNoReplyIsAnError) {
    std::string garbage = "HTTP/1.1 400 Bad Request\r\n";
    EXPECT_THROW(ReplyReader::next(garbage), std::runtime_error);
    std::string mixed = "250-a\r\n550 b\r\n";
    EXPECT_THROW(ReplyReader::next(mixed), std::runtime_error);
    std::string endless(5000, 'x');
    EXPECT_THROW(ReplyReader::next(endless), std::runtime_error);
}

TEST(SmtpCommand, VerbAndPath) {
    const SmtpCommand command = parse_command("mail FROM:<alice@example.com> size=5120 BODY=8BITMIME");
    EXPECT_EQ(command.verb, "MAIL");
    auto path = parse_path(command.argument, "FROM:");
    ASSERT_TRUE(std::holds_alternative<SmtpPath>(path));
    EXPECT_EQ(std::get<SmtpPath>(path).address, "alice@example.com");
    EXPECT_EQ(std::get<SmtpPath>(path).parameters,
              (std::map<std::string, std::string>{{"SIZE", "5120"}, {"BODY", "8BITMIME"}}));
    EXPECT_EQ(std::get<SmtpPath>(parse_path("FROM:<>", "FROM:")).address, "") << "the null reverse-path";
    EXPECT_EQ(std::get<SmtpPath>(parse_path("to:<@relay.test:bob@example.com>", "TO:")).address,
              "bob@example.com");
    EXPECT_EQ(std::get<std::string>(parse_path("TO:bob@example.com", "TO:")),
              "the address goes between < and >");
    EXPECT_EQ(std::get<std::string>(parse_path("FROM:<a@b>", "TO:")), "expected TO:<address>");
    EXPECT_EQ(parse_command("QUIT").verb, "QUIT");
    EXPECT_EQ(parse_command("QUIT").argument, "");
}

TEST(DotStuffing, BothWaysGiveTheMailBack) {
    const std::string mail = "Subject: dots\r\n\r\n.leading dot\r\n.\r\nlast line";
    const std::string wire = dot_stuffed(mail);
    EXPECT_EQ(wire, "Subject: dots\r\n\r\n..leading dot\r\n..\r\nlast line\r\n.\r\n");
    DataReader reader(1000);
    std::string buffer = wire + "QUIT\r\n";
    EXPECT_TRUE(reader.take(buffer));
    EXPECT_EQ(reader.mail(), mail + "\r\n");
    EXPECT_EQ(buffer, "QUIT\r\n") << "a pipelined command after the data is left for the session";
}

TEST(DotStuffing, DataInPiecesOfEverySize) {
    const std::string wire = "a\r\n..b\r\n.c\r\n\r\n.\r\nNEXT";
    for (std::size_t piece = 1; piece <= wire.size(); ++piece) {
        DataReader reader(1000);
        std::string buffer;
        bool done = false;
        std::size_t fed = 0;
        while (!done && fed < wire.size()) {
            buffer += wire.substr(fed, piece);
            fed += piece;
            done = reader.take(buffer);
        }
        ASSERT_TRUE(done) << "piece " << piece;
        EXPECT_EQ(reader.mail(), "a\r\n.b\r\nc\r\n\r\n") << "piece " << piece;
        EXPECT_EQ(buffer + wire.substr(std::min(fed, wire.size())), "NEXT") << "piece " << piece;
    }
}

TEST(DotStuffing, OnlyCrLfDotCrLfEndsTheData) {
    DataReader reader(1000);
    std::string smuggled = "text\n.\nMAIL FROM:<evil@example.com>\r\n\n.\r\n";
    EXPECT_FALSE(reader.take(smuggled)) << "a bare LF around the dot is no end";
    std::string end = ".\r\n";
    EXPECT_TRUE(reader.take(end));
    EXPECT_EQ(reader.mail(), "text\n.\nMAIL FROM:<evil@example.com>\r\n\n.\r\n");
}

TEST(DotStuffing, ATooBigMailIsReadToItsEndAndNotKept) {
    DataReader reader(10);
    std::string buffer = "0123456789abcdef\r\nmore\r\n.\r\nRSET\r\n";
    EXPECT_TRUE(reader.take(buffer));
    EXPECT_TRUE(reader.too_big());
    EXPECT_TRUE(reader.mail().empty());
    EXPECT_EQ(buffer, "RSET\r\n");
}

} // namespace
} // namespace ferry::connectors::email
