// The mail family's addresses: which mail addresses Ferry takes, who sends as whom and who receives what
// under organisation and per-user mappings, and the tokens that lead mail back to a message.
#include "bridge/store/mapping_snapshot.hpp"
#include "connectors/email/address_book.hpp"
#include "connectors/email/email_settings.hpp"
#include "connectors/email/mail_address.hpp"
#include "connectors/email/mail_tokens.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry::connectors::email {
namespace {

using store::Direction;

TEST(MailAddress, TakesDotAtomsAndHostNames) {
    const auto address = parse_mail_address("Bob.O'Neil+tag@Example.COM");
    ASSERT_TRUE(address);
    EXPECT_EQ(address->local, "Bob.O'Neil+tag");
    EXPECT_EQ(address->domain, "example.com");
    EXPECT_EQ(address->text(), "Bob.O'Neil+tag@example.com");
    EXPECT_EQ(address->key(), "bob.o'neil+tag@example.com");
}

TEST(MailAddress, RefusesWhatSmtpCannotCarryWithAReason) {
    const auto reason = [](std::string_view text) {
        auto parsed = parse_mail_address_or_reason(text);
        const auto* why = std::get_if<std::string>(&parsed);
        return why != nullptr ? *why : std::string("(taken)");
    };
    EXPECT_EQ(reason(""), "an empty address");
    EXPECT_EQ(reason("bob"), "no @");
    EXPECT_EQ(reason("bob@"), "\"\" is not a mail domain");
    EXPECT_EQ(reason("@example.com"), "\"\" is not a local part of a mail address");
    EXPECT_EQ(reason("bob..smith@example.com"), "\"bob..smith\" is not a local part of a mail address");
    EXPECT_EQ(reason(".bob@example.com"), "\".bob\" is not a local part of a mail address");
    EXPECT_EQ(reason("bob smith@example.com"), "\"bob smith\" is not a local part of a mail address");
    EXPECT_EQ(reason("bob\r\nBcc: x@example.com@example.com"),
              "\"bob??Bcc: x@example.com\" is not a local part of a mail address");
    EXPECT_EQ(reason("\"bob smith\"@example.com"), "quoted local parts are not supported");
    EXPECT_EQ(reason("bob@[127.0.0.1]"), "address literals are not supported: give a host name");
    EXPECT_EQ(reason("bob@-example.com"), "\"-example.com\" is not a mail domain");
    EXPECT_EQ(reason("bob@example..com"), "\"example..com\" is not a mail domain");
    EXPECT_EQ(reason("jürgen@example.de"), "non-ASCII mail addresses (SMTPUTF8) are not supported");
    EXPECT_EQ(reason(std::string(65, 'a') + "@example.com"), "a local part longer than 64 characters");
    EXPECT_EQ(reason("a@" + std::string(250, 'b') + ".com"), "longer than 254 characters");
}

store::Connector mail_connector(bool enabled = true) {
    store::Connector c;
    c.id = 1;
    c.name = "mail";
    c.kind = "email";
    c.enabled = enabled;
    return c;
}

store::Mapping mapping(std::int64_t id, std::string xmpp, std::string remote,
                       Direction direction = Direction::both, bool enabled = true) {
    store::Mapping m;
    m.id = id;
    m.xmpp_address = std::move(xmpp);
    m.connector_id = 1;
    m.remote_address = std::move(remote);
    m.direction = direction;
    m.enabled = enabled;
    return m;
}

/// example.org's users are at chat.example.org; carol has her own address, dave is not bridged, erin only
/// sends.
store::MappingSnapshot organisation(bool connector_enabled = true) {
    return store::MappingSnapshot(
        {mail_connector(connector_enabled)},
        {mapping(1, "*@example.org", "*@chat.example.org"),
         mapping(2, "carol@example.org", "c.jones@chat.example.org"),
         mapping(3, "dave@example.org", "dave@chat.example.org", Direction::both, false),
         mapping(4, "erin@example.org", "erin@chat.example.org", Direction::out)});
}

std::string sender(const AddressBook& book, std::string_view jid) {
    const auto found = book.sender(jid);
    return found ? found->address.text() : "(none)";
}

std::string recipient(const AddressBook& book, std::string_view address) {
    const auto found = book.recipient(*parse_mail_address(address));
    return found ? found->bare_jid : "(none)";
}

TEST(AddressBook, AnOrganisationMappingGivesEveryUserTheSameNameAtTheMailDomain) {
    const store::MappingSnapshot snapshot = organisation();
    const AddressBook book(snapshot, 1);
    EXPECT_EQ(sender(book, "alice@example.org"), "alice@chat.example.org");
    EXPECT_EQ(book.sender("alice@example.org")->mapping->id, 1);
    EXPECT_EQ(recipient(book, "alice@chat.example.org"), "alice@example.org");
    EXPECT_EQ(recipient(book, "Alice@Chat.Example.org"), "alice@example.org") << "case-blind";
    EXPECT_EQ(sender(book, "alice@other.example"), "(none)") << "another XMPP domain";
    EXPECT_EQ(recipient(book, "alice@other.example"), "(none)") << "another mail domain";
}

TEST(AddressBook, AUsersOwnMappingOverridesTheOrganisationsBothWays) {
    const store::MappingSnapshot snapshot = organisation();
    const AddressBook book(snapshot, 1);
    EXPECT_EQ(sender(book, "carol@example.org"), "c.jones@chat.example.org");
    EXPECT_EQ(recipient(book, "c.jones@chat.example.org"), "carol@example.org");
    EXPECT_EQ(recipient(book, "carol@chat.example.org"), "(none)") << "not her address any more";
    EXPECT_EQ(sender(book, "c.jones@example.org"), "(none)") << "carol's address is not c.jones's to take";
}

TEST(AddressBook, ADisabledOwnMappingLeavesTheUserOut) {
    const store::MappingSnapshot snapshot = organisation();
    const AddressBook book(snapshot, 1);
    EXPECT_EQ(sender(book, "dave@example.org"), "(none)");
    EXPECT_EQ(recipient(book, "dave@chat.example.org"), "(none)");
}

TEST(AddressBook, DirectionsAndTheConnectorsStateCount) {
    const store::MappingSnapshot snapshot = organisation();
    const AddressBook book(snapshot, 1);
    EXPECT_EQ(sender(book, "erin@example.org"), "erin@chat.example.org");
    EXPECT_EQ(recipient(book, "erin@chat.example.org"), "(none)") << "erin's mapping only sends";

    const store::MappingSnapshot off = organisation(false);
    const AddressBook disabled(off, 1);
    EXPECT_EQ(sender(disabled, "alice@example.org"), "(none)");
    EXPECT_EQ(recipient(disabled, "alice@chat.example.org"), "(none)");
}

TEST(AddressBook, NamesThatCannotCrossAreRefused) {
    const store::MappingSnapshot snapshot = organisation();
    const AddressBook book(snapshot, 1);
    EXPECT_EQ(sender(book, "jürgen@example.org"), "(none)") << "no mail local part";
    EXPECT_EQ(recipient(book, "o'neil@chat.example.org"), "(none)") << "no JID local part";
}

TEST(MailTokens, LeadBackToTheMessageAndCannotBeMadeUp) {
    const MailTokens tokens("component secret", "mail");
    const std::string key = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";
    const std::string token = tokens.token(key);
    EXPECT_EQ(token.size(), 48u);
    EXPECT_EQ(tokens.message_key(token), key);

    const std::string id = tokens.message_id(key, "chat.example.org");
    EXPECT_EQ(id, "ferry." + token + "@chat.example.org");
    EXPECT_EQ(tokens.key_of_message_id("<" + id + ">"), key);
    EXPECT_EQ(tokens.key_of_message_id(id), key);
    const std::string path = tokens.return_path(key, "chat.example.org");
    EXPECT_EQ(path, "bounces+" + token + "@chat.example.org");
    EXPECT_EQ(tokens.key_of_return_path(*parse_mail_address(path)), key);
    EXPECT_EQ(tokens.key_of_return_path(*parse_mail_address("BOUNCES+" + token + "@x.example")), key)
        << "MTAs may change the case";

    std::string forged = token;
    forged[47] = forged[47] == '0' ? '1' : '0';
    EXPECT_FALSE(tokens.message_key(forged));
    forged = token;
    forged[0] = forged[0] == '0' ? '1' : '0';
    EXPECT_FALSE(tokens.message_key(forged)) << "another message's key with this one's HMAC";
    EXPECT_FALSE(MailTokens("another secret", "mail").message_key(token));
    EXPECT_FALSE(MailTokens("component secret", "other").message_key(token));
    EXPECT_FALSE(tokens.key_of_message_id("<CAF=x@mail.gmail.com>"));
    EXPECT_FALSE(tokens.key_of_return_path(*parse_mail_address("bob@example.com")));
    EXPECT_FALSE(tokens.message_key(token.substr(1)));
}

TEST(EmailSettings, ReadsAndRefusesWithReasons) {
    const EmailSettings read = read_settings({{"mail_domain", "Chat.Example.org"},
                                              {"relay", "smtp.example.org"},
                                              {"user", "ferry"},
                                              {"password", "pw"},
                                              {"listen", "127.0.0.1:2424"},
                                              {"max_size", "1048576"}});
    EXPECT_EQ(read.mail_domain, "chat.example.org");
    EXPECT_EQ(read.relay_host, "smtp.example.org");
    EXPECT_EQ(read.relay_port, 587);
    EXPECT_EQ(read.relay_tls, RelayTls::starttls);
    EXPECT_EQ(read.listen_address, "127.0.0.1");
    EXPECT_EQ(read.listen_port, 2424);
    EXPECT_FALSE(read.listen_smtp);
    EXPECT_EQ(read.max_size, 1048576u);
    EXPECT_EQ(read_settings({{"mail_domain", "x.example"}, {"relay", "[::1]:465"}, {"relay_tls", "tls"}})
                  .relay_port,
              465);

    const auto refusal = [](const nlohmann::json& settings) {
        try {
            read_settings(settings);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("(taken)");
    };
    EXPECT_EQ(refusal({{"mail_domain", "not a domain"}}),
              "mail_domain: \"not a domain\" is not a domain name");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"relay", "smtp:99999"}}),
              "relay: \"99999\" is not a port (1 to 65535)");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"relay_tls", "maybe"}}),
              "relay_tls is starttls, tls or none, not \"maybe\"");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"user", "ferry"}}),
              "user and password go together: give both or neither");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"listen", "127.0.0.1"}}),
              "listen: give address:port, e.g. 127.0.0.1:2424");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"listen", "localhost:2424"}}),
              "listen: \"localhost\" is not an IP address");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"listen_protocol", "imap"}}),
              "listen_protocol is lmtp or smtp, not \"imap\"");
    EXPECT_EQ(refusal({{"mail_domain", "x.example"}, {"max_size", "12"}}),
              "max_size is a number of bytes from 1024 to 1073741824, not \"12\"");
}

} // namespace
} // namespace ferry::connectors::email
