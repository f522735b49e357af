// redact_conninfo() and check_conninfo(): what may reach a log line. No server needed.
#include "bridge/pg/conninfo.hpp"

#include <gtest/gtest.h>
#include <stdexcept>

namespace ferry::pg {
namespace {

TEST(PgConninfo, RedactsThePasswordOfAUri) {
    const std::string redacted =
        redact_conninfo("postgresql://ferry:s3cr%40t@db.example:5433/ferry?sslmode=require");
    EXPECT_EQ(redacted.find("s3cr"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("password=***"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("host='db.example'"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("port='5433'"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("sslmode='require'"), std::string::npos) << redacted;
    EXPECT_EQ(redact_conninfo("postgresql://ferry@localhost/ferry?password=hunter2").find("hunter2"),
              std::string::npos);
}

TEST(PgConninfo, RedactsThePasswordOfKeyValueForm) {
    const std::string redacted =
        redact_conninfo("host=127.0.0.1 user=ferry password='it\\'s secret' dbname=f "
                        "sslpassword=keypass");
    EXPECT_EQ(redacted.find("secret"), std::string::npos) << redacted;
    EXPECT_EQ(redacted.find("keypass"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("user='ferry'"), std::string::npos) << redacted;
    EXPECT_NE(redacted.find("sslpassword=***"), std::string::npos) << redacted;
}

TEST(PgConninfo, UnparsableStringIsNeverEchoed) {
    EXPECT_EQ(redact_conninfo("host=x password hunter2"), "<invalid connection string>");
    try {
        check_conninfo("host=x password hunter2");
        ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    }
    EXPECT_NO_THROW(check_conninfo("postgresql://a:b@c/d"));
}

} // namespace
} // namespace ferry::pg
