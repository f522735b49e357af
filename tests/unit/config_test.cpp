#include "bridge/core/config.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace ferry::core {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

const std::string secret = "s3cr3t-Hunter2-do-not-print";
const Args required_env = {"FERRY_COMPONENT_DOMAIN=ferry.example.org", "FERRY_COMPONENT_SECRET=" + secret};
const Args required_args = {"--component.domain", "ferry.example.org", "--component.secret", secret};

/// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::random_device random;
        for (;;) {
            path_ = fs::temp_directory_path() / ("ferry-config-test-" + std::to_string(random()));
            if (fs::create_directory(path_))
                break;
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }

    /// Writes `content` to `name` inside the directory and returns its full path.
    std::string write(const std::string& name, const std::string& content) const {
        const fs::path file = path_ / name;
        std::ofstream(file, std::ios::binary) << content;
        return file.string();
    }
    std::string path() const { return path_.string(); }

private:
    fs::path path_;
};

/// The ConfigError message thrown by load_config, or a failure if it does not throw.
std::string load_error(const Args& args, const Args& environment) {
    try {
        load_config(args, environment);
    } catch (const ConfigError& error) {
        return error.what();
    }
    ADD_FAILURE() << "load_config did not throw";
    return {};
}

/// The error for one option given `value` through the command line, the rest being valid.
std::string option_error(const std::string& option, const std::string& value) {
    Args args = required_args;
    args.push_back("--" + option + "=" + value);
    return load_error(args, {});
}

TEST(Config, DefaultsApplyWhenOnlyRequiredOptionsAreGiven) {
    const Config config = load_config({}, required_env);
    EXPECT_EQ(config.config_file, "");
    EXPECT_EQ(config.component.domain, "ferry.example.org");
    EXPECT_EQ(config.component.secret, secret);
    ComponentConfig expected;
    expected.domain = "ferry.example.org";
    expected.secret = secret;
    EXPECT_EQ(config.component, expected);
    EXPECT_EQ(config.component.host, "localhost");
    EXPECT_EQ(config.component.port, 5347);
    EXPECT_FALSE(config.component.tls);
    EXPECT_TRUE(config.component.tls_verify);
    EXPECT_EQ(config.component.max_stanza_size, 1048576u);
    EXPECT_EQ(config.component.server_max_stanza_size, 524288u);
    EXPECT_EQ(config.component.max_depth, 64u);
    EXPECT_EQ(config.component.reconnect_min_delay, 1.0);
    EXPECT_EQ(config.component.reconnect_max_delay, 60.0);
    EXPECT_EQ(config.component.keepalive_interval, 60.0);
    EXPECT_EQ(config.component.keepalive_timeout, 20.0);
    EXPECT_EQ(config.component.send_queue_limit, 10000u);
    EXPECT_EQ(config.log.level, "info");
    EXPECT_EQ(config.log.file, "");
}

/// Every option set to a non-default value, as the config file, environment and command line spell it.
const std::vector<std::pair<std::string, std::string>> all_options = {
    {"component.domain", "bridge.example.net"},
    {"component.host", "xmpp.example.net"},
    {"component.port", "5348"},
    {"component.secret", secret},
    {"component.tls", "yes"},
    {"component.tls_verify", "off"},
    {"component.max_stanza_size", "1024"},
    {"component.max_depth", "4"},
    {"component.reconnect_min_delay", "0.5"},
    {"component.reconnect_max_delay", "30.25"},
    {"component.keepalive_interval", "15"},
    {"component.keepalive_timeout", "2.5"},
    {"component.send_queue_limit", "1"},
    {"log.level", "debug"},
    {"log.file", "/var/log/ferry.log"},
};

void expect_all_options_set(const Config& config) {
    EXPECT_EQ(config.component.domain, "bridge.example.net");
    EXPECT_EQ(config.component.host, "xmpp.example.net");
    EXPECT_EQ(config.component.port, 5348);
    EXPECT_EQ(config.component.secret, secret);
    EXPECT_TRUE(config.component.tls);
    EXPECT_FALSE(config.component.tls_verify);
    EXPECT_EQ(config.component.max_stanza_size, 1024u);
    EXPECT_EQ(config.component.max_depth, 4u);
    EXPECT_EQ(config.component.reconnect_min_delay, 0.5);
    EXPECT_EQ(config.component.reconnect_max_delay, 30.25);
    EXPECT_EQ(config.component.keepalive_interval, 15.0);
    EXPECT_EQ(config.component.keepalive_timeout, 2.5);
    EXPECT_EQ(config.component.send_queue_limit, 1u);
    EXPECT_EQ(config.log.level, "debug");
    EXPECT_EQ(config.log.file, "/var/log/ferry.log");
}

std::string env_name(const std::string& option) {
    std::string name = "FERRY_" + option;
    for (char& c : name)
        c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

TEST(Config, ReadsEveryOptionFromConfigFile) {
    TempDir dir;
    std::string text = "[component]\n";
    for (const auto& [name, value] : all_options)
        if (name.starts_with("component."))
            text += name.substr(10) + " = " + value + "\n";
    text += "[log]\nlevel = debug\nfile = /var/log/ferry.log\n";
    const std::string path = dir.write("ferry.conf", text);
    const Config config = load_config({"--config", path}, {});
    EXPECT_EQ(config.config_file, path);
    expect_all_options_set(config);
}

TEST(Config, ReadsEveryOptionFromEnvironment) {
    Args environment = {"PATH=/usr/bin", "HOME=/root", "NOT_FERRY_X=1"};
    for (const auto& [name, value] : all_options)
        environment.push_back(env_name(name) + "=" + value);
    expect_all_options_set(load_config({}, environment));
}

TEST(Config, ReadsEveryOptionFromCommandLineWithSpaceOrEquals) {
    Args separate;
    Args joined;
    for (const auto& [name, value] : all_options) {
        separate.push_back("--" + name);
        separate.push_back(value);
        joined.push_back("--" + name + "=" + value);
    }
    expect_all_options_set(load_config(separate, {}));
    expect_all_options_set(load_config(joined, {}));
}

TEST(Config, ConfigFileIsNamedByLongOrShortFlagOrEnvironment) {
    TempDir dir;
    const std::string path = dir.write("a.conf", "[component]\nport = 6000\n");
    EXPECT_EQ(load_config({"--config", path}, required_env).component.port, 6000);
    EXPECT_EQ(load_config({"--config=" + path}, required_env).component.port, 6000);
    EXPECT_EQ(load_config({"-c", path}, required_env).component.port, 6000);
    Args environment = required_env;
    environment.push_back("FERRY_CONFIG=" + path);
    const Config config = load_config({}, environment);
    EXPECT_EQ(config.component.port, 6000);
    EXPECT_EQ(config.config_file, path);
}

TEST(Config, CommandLineConfigPathOverridesFerryConfig) {
    TempDir dir;
    const std::string chosen = dir.write("chosen.conf", "[component]\nport = 6001\n");
    Args environment = required_env;
    environment.push_back("FERRY_CONFIG=" + dir.path() + "/missing.conf");
    const Config config = load_config({"-c", chosen}, environment);
    EXPECT_EQ(config.config_file, chosen);
    EXPECT_EQ(config.component.port, 6001);
}

TEST(Config, CommandLineOverridesEnvironmentOverridesFile) {
    TempDir dir;
    const std::string path =
        dir.write("ferry.conf", "[component]\nport = 1111\nhost = file.example\nmax_depth = 10\n"
                                "[log]\nlevel = error\n");
    Args environment = required_env;
    environment.insert(environment.end(), {"FERRY_COMPONENT_PORT=2222", "FERRY_COMPONENT_HOST=env.example"});
    const Config config = load_config({"--config", path, "--component.port", "3333"}, environment);
    EXPECT_EQ(config.component.port, 3333);          // command line beats environment and file
    EXPECT_EQ(config.component.host, "env.example"); // environment beats file
    EXPECT_EQ(config.component.max_depth, 10u);      // file beats default
    EXPECT_EQ(config.log.level, "error");
    EXPECT_EQ(config.component.keepalive_interval, 60.0); // default
}

TEST(Config, FileAcceptsHashAndSemicolonCommentsAndBlankLines) {
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "\xEF\xBB\xBF# leading comment\r\n"
                                                     "; another comment\n"
                                                     "\n"
                                                     "[component]\n"
                                                     "  ; indented comment\n"
                                                     "port = 5400   # trailing comment\n"
                                                     "host=xmpp.local\r\n"
                                                     "[log]\n"
                                                     "file =\n");
    const Config config = load_config({"--config", path}, required_env);
    EXPECT_EQ(config.component.port, 5400);
    EXPECT_EQ(config.component.host, "xmpp.local");
    EXPECT_EQ(config.log.file, "");
}

TEST(Config, AcceptsEveryBooleanSpelling) {
    for (const std::string yes : {"true", "yes", "on", "1", "TRUE", "Yes"})
        EXPECT_TRUE(load_config({"--component.tls", yes}, required_env).component.tls) << yes;
    for (const std::string no : {"false", "no", "off", "0", "False", "OFF"})
        EXPECT_FALSE(load_config({"--component.tls", "yes", "--component.tls_verify", no}, required_env)
                         .component.tls_verify)
            << no;
}

TEST(Config, DurationsAreDecimalSeconds) {
    const Config config = load_config(
        {"--component.keepalive_timeout", "0.25", "--component.reconnect_min_delay=.5"}, required_env);
    EXPECT_EQ(config.component.keepalive_timeout, 0.25);
    EXPECT_EQ(config.component.reconnect_min_delay, 0.5);
}

TEST(Config, EmptyValueAfterEqualsSignIsAccepted) {
    EXPECT_EQ(load_config({"--log.file=", "--log.level=warning"}, required_env).log.file, "");
}

TEST(Config, UnknownOptionInFileNamesOptionAndFile) {
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "[component]\nprot = 5347\n");
    const std::string message = load_error({"--config", path}, required_env);
    EXPECT_EQ(message, "unknown option \"component.prot\" in " + path + " (did you mean component.port?)");
}

TEST(Config, OptionOutsideItsSectionIsUnknown) {
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "port = 5347\n");
    EXPECT_EQ(load_error({"--config", path}, required_env),
              "unknown option \"port\" in " + path + " (did you mean port in [component]?)");
}

TEST(Config, UnknownSectionInFileIsRejected) {
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "[databass]\nurl = x\n");
    EXPECT_TRUE(load_error({"--config", path}, required_env)
                    .starts_with("unknown option \"databass.url\" in " + path))
        << load_error({"--config", path}, required_env);
}

TEST(Config, UnknownCommandLineOptionIsRejected) {
    EXPECT_EQ(load_error({"--component.prot", "5347"}, required_env),
              "unknown command line option \"--component.prot\" (did you mean --component.port?)");
    EXPECT_EQ(load_error({"--verbose"}, required_env), "unknown command line option \"--verbose\"");
    EXPECT_EQ(load_error({"-x"}, required_env), "unknown command line option \"-x\"");
}

TEST(Config, PrefixOfAnOptionIsNotGuessed) {
    EXPECT_NE(load_error({"--component.dom", "a.example"}, {"FERRY_COMPONENT_SECRET=x"})
                  .find("unknown command line option \"--component.dom\""),
              std::string::npos);
}

TEST(Config, UnexpectedCommandLineArgumentIsRejected) {
    const std::string message = load_error({"--component.port", "5347", "stray"}, required_env);
    EXPECT_NE(message.find("unexpected command line argument \"stray\""), std::string::npos) << message;
}

TEST(Config, CommandLineOptionWithoutValueIsRejected) {
    std::string message = load_error({"--component.port"}, required_env);
    EXPECT_NE(message.find("--component.port"), std::string::npos) << message;
    message = load_error({"--component.domain", "--component.port", "5348"}, {"FERRY_COMPONENT_SECRET=x"});
    EXPECT_EQ(message, "--component.domain is missing its value on the command line (the next argument is "
                       "the option --component.port)");
}

TEST(Config, OptionGivenTwiceInOneSourceIsRejected) {
    EXPECT_EQ(load_error({"--component.port=1", "--component.port=2"}, required_env),
              "component.port is given more than once on the command line");
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "[component]\nport = 1\nport = 2\n");
    EXPECT_EQ(load_error({"-c", path}, required_env), "component.port is given more than once in " + path);
}

TEST(Config, UnknownEnvironmentVariableIsRejected) {
    Args environment = required_env;
    environment.push_back("FERRY_COMPONENT_PROT=5347");
    EXPECT_EQ(load_error({}, environment),
              "unknown environment variable FERRY_COMPONENT_PROT (did you mean FERRY_COMPONENT_PORT?)");
}

TEST(Config, MissingConfigFileIsReported) {
    TempDir dir;
    const std::string path = dir.path() + "/x.conf";
    EXPECT_EQ(load_error({"--config", path}, required_env),
              "cannot read config file " + path + ": No such file or directory");
    EXPECT_EQ(load_error({"--config", dir.path()}, required_env),
              "cannot read config file " + dir.path() + ": Is a directory");
}

TEST(Config, MalformedFileLineNamesLineNumberOnly) {
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "[component]\nport = 5347\nsecret " + secret + "\n");
    const std::string message = load_error({"--config", path}, required_env);
    EXPECT_EQ(message,
              "config file " + path + ", line 3: expected \"key = value\", \"[section]\" or a comment");
}

TEST(Config, PortMustBeANumberFrom1To65535) {
    for (const std::string bad : {"70000", "0", "-1", "53x", "", " 80", "0x50", "99999999999999999999999"}) {
        const std::string message = option_error("component.port", bad);
        EXPECT_EQ(message, "component.port: \"" + bad +
                               "\" is not a port number (1-65535) (from command line --component.port)");
    }
}

TEST(Config, ErrorNamesEnvironmentVariableOrFileAsSource) {
    Args environment = required_env;
    environment.push_back("FERRY_COMPONENT_PORT=70000");
    EXPECT_EQ(load_error({}, environment), "component.port: \"70000\" is not a port number (1-65535) (from "
                                           "environment variable FERRY_COMPONENT_PORT)");
    TempDir dir;
    const std::string path = dir.write("ferry.conf", "[component]\nport = 70000\n");
    EXPECT_EQ(load_error({"-c", path}, required_env),
              "component.port: \"70000\" is not a port number (1-65535) (from config file " + path +
                  ", line 2)");
}

TEST(Config, BadBooleanIsRejected) {
    for (const std::string option : {"component.tls", "component.tls_verify"})
        for (const std::string bad : {"maybe", "2", "", "truee", "y"}) {
            const std::string message = option_error(option, bad);
            EXPECT_NE(message.find(option + ": \"" + bad + "\" is not a boolean"), std::string::npos)
                << message;
        }
}

TEST(Config, SizesRejectTrailingJunkNegativesAndOutOfRange) {
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"component.max_stanza_size", "1023", "from 1024 to 16777216"},
        {"component.max_stanza_size", "16777217", "from 1024 to 16777216"},
        {"component.max_stanza_size", "4096k", "from 1024 to 16777216"},
        {"component.max_stanza_size", "-4096", "from 1024 to 16777216"},
        {"component.max_stanza_size", "4096.0", "from 1024 to 16777216"},
        {"component.max_depth", "3", "from 4 to 1024"},
        {"component.max_depth", "1025", "from 4 to 1024"},
        {"component.max_depth", "+10", "from 4 to 1024"},
        {"component.send_queue_limit", "0", "of at least 1"},
        {"component.send_queue_limit", "-1", "of at least 1"},
        {"component.send_queue_limit", "10 ", "of at least 1"},
        {"component.send_queue_limit", "99999999999999999999999", "of at least 1"},
    };
    for (const auto& [option, bad, range] : cases) {
        const std::string message = option_error(option, bad);
        EXPECT_EQ(message, option + ": \"" + bad + "\" is not a whole number " + range +
                               " (from command line --" + option + ")");
    }
}

TEST(Config, DurationsMustBePositiveFiniteSeconds) {
    for (const std::string option : {"component.reconnect_min_delay", "component.reconnect_max_delay",
                                     "component.keepalive_interval", "component.keepalive_timeout"})
        for (const std::string bad : {"0", "-1", "1s", "", "nan", "inf", "86401", "1e400", "1,5"}) {
            const std::string message = option_error(option, bad);
            EXPECT_NE(message.find(option + ": \"" + bad + "\" is not a duration in seconds"),
                      std::string::npos)
                << message;
        }
}

TEST(Config, LogLevelMustBeOneOfFour) {
    for (const std::string good : {"debug", "info", "warning", "error"})
        EXPECT_EQ(load_config({"--log.level", good}, required_env).log.level, good);
    for (const std::string bad : {"verbose", "INFO", "warn", ""}) {
        EXPECT_EQ(option_error("log.level", bad),
                  "log.level: \"" + bad +
                      "\" is not a log level (debug, info, warning, error) (from "
                      "command line --log.level)");
    }
}

TEST(Config, MinimumReconnectDelayAboveMaximumIsRejected) {
    EXPECT_EQ(load_error({"--component.reconnect_min_delay", "90"}, required_env),
              "component.reconnect_min_delay (\"90\" from command line --component.reconnect_min_delay) must "
              "not be greater than component.reconnect_max_delay (60, the default)");
    Args environment = required_env;
    environment.push_back("FERRY_COMPONENT_RECONNECT_MAX_DELAY=0.5");
    const std::string message = load_error({}, environment);
    EXPECT_NE(message.find("component.reconnect_max_delay (\"0.5\" from environment variable "
                           "FERRY_COMPONENT_RECONNECT_MAX_DELAY)"),
              std::string::npos)
        << message;
    EXPECT_EQ(
        load_config({"--component.reconnect_min_delay=5", "--component.reconnect_max_delay=5"}, required_env)
            .component.reconnect_max_delay,
        5.0);
}

TEST(Config, DomainIsRequired) {
    EXPECT_EQ(load_error({}, {"FERRY_COMPONENT_SECRET=x"}),
              "component.domain is required (set it in [component] domain, --component.domain or "
              "FERRY_COMPONENT_DOMAIN)");
}

TEST(Config, SecretIsRequired) {
    const std::string expected = "component.secret is required (set it in [component] secret, "
                                 "--component.secret or FERRY_COMPONENT_SECRET)";
    EXPECT_EQ(load_error({"--component.domain", "a.example"}, {}), expected);
    EXPECT_EQ(load_error({"--component.domain", "a.example"}, {"FERRY_COMPONENT_SECRET="}), expected);
}

TEST(Config, InvalidDomainIsRejected) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "it is empty"},
        {"ferry example.org", "it contains whitespace"},
        {"ferry\t.org", "it contains whitespace"},
        {"user@ferry.example.org", "it must not contain '@' or '/'"},
        {"ferry.example.org/resource", "it must not contain '@' or '/'"},
        {std::string(1024, 'a'), "it is longer than 1023 bytes"},
    };
    for (const auto& [bad, reason] : cases)
        EXPECT_EQ(load_error({"--component.domain=" + bad}, {"FERRY_COMPONENT_SECRET=x"}),
                  "component.domain: \"" + bad + "\" is not a valid domain: " + reason +
                      " (from command line --component.domain)");
    EXPECT_EQ(load_config({"--component.domain", std::string(1023, 'a')}, {"FERRY_COMPONENT_SECRET=x"})
                  .component.domain.size(),
              1023u);
}

TEST(Config, InvalidHostIsRejected) {
    EXPECT_NE(option_error("component.host", "").find("component.host: \"\" is not a host name"),
              std::string::npos);
    EXPECT_NE(option_error("component.host", "a b").find("component.host: \"a b\""), std::string::npos);
}

TEST(Config, DatabasePasswordIsNeverPrinted) {
    const std::string text = describe_config(load_config(
        {"--database.url", "postgresql://ferry:hunter2@db.example.org:5433/ferry"}, required_env));
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
    EXPECT_NE(text.find("password=***"), std::string::npos) << text;
    EXPECT_NE(text.find("host='db.example.org'"), std::string::npos) << text;
}

TEST(Config, DatabaseUrlIsRequiredOnlyWhereNeeded) {
    EXPECT_NO_THROW(load_config({}, required_env));
    try {
        load_config({}, {}, {.component = false, .database = true});
        FAIL() << "database.url should be required";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("database.url is required"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(load_config({"--database.url", "host=localhost dbname=ferry"}, {},
                                {.component = false, .database = true}));
}

TEST(Config, UnparsableDatabaseUrlIsRejectedWithoutEchoingIt) {
    const std::string error = option_error("database.url", "postgresql://u:s3cret@[bad");
    EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
    EXPECT_NE(error.find("database.url is not a PostgreSQL connection string"), std::string::npos) << error;
}

TEST(Config, DescribeConfigRedactsSecret) {
    const std::string text = describe_config(load_config({}, required_env));
    EXPECT_EQ(text.find(secret), std::string::npos);
    EXPECT_NE(text.find("secret = <redacted>\n"), std::string::npos) << text;
    Config unset;
    EXPECT_NE(describe_config(unset).find("secret = <unset>\n"), std::string::npos);
}

TEST(Config, SecretKeyIsCheckedAndNeverPrinted) {
    const std::string key = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    Args env = required_env;
    env.push_back("FERRY_DATABASE_URL=postgresql://ferry@127.0.0.1/ferry");
    env.push_back("FERRY_DATABASE_SECRET_KEY=" + key);
    const Config config = load_config({}, env);
    EXPECT_EQ(config.database.secret_key, key);
    const std::string text = describe_config(config);
    EXPECT_EQ(text.find(key), std::string::npos);
    EXPECT_NE(text.find("# secret_key = <redacted> (set; give it again through FERRY_DATABASE_SECRET_KEY)\n"),
              std::string::npos)
        << text;
    Config reloaded = load_config({"--config", TempDir().write("described.conf", text)}, required_env);
    EXPECT_EQ(reloaded.database.secret_key, "") << "a key comes back only from where it was given";

    const std::string short_key = "c2hvcnQta2V5LXNob3J0LWtleQ=="; // 19 bytes
    try {
        load_config({"--database.secret_key", short_key, "--database.url", "postgresql://h/d"}, required_env);
        FAIL() << "a 19-byte key was accepted";
    } catch (const ConfigError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("database.secret_key is not a usable key: expected 32 bytes in base64"),
                  std::string::npos)
            << message;
        EXPECT_EQ(message.find(short_key), std::string::npos) << "the key was echoed: " << message;
    }
    Args not_base64 = required_env;
    not_base64.push_back("FERRY_DATABASE_SECRET_KEY=" + std::string(43, '!') + "=");
    EXPECT_THROW(load_config({}, not_base64), ConfigError);
}

TEST(Config, DescribeConfigPrintsEveryOption) {
    const std::string text = describe_config(load_config({}, required_env));
    EXPECT_NE(
        text.find("[component]\ndomain = ferry.example.org\nhost = localhost\nport = 5347\n"
                  "secret = <redacted>\ntls = false\ntls_verify = true\nmax_stanza_size = 1048576\n"
                  "server_max_stanza_size = 524288\nmax_depth = 64\nreconnect_min_delay = "
                  "1\nreconnect_max_delay = 60\n"
                  "keepalive_interval = 60\nkeepalive_timeout = 20\nsend_queue_limit = 10000\n\n"
                  "[database]\nurl =\npool_size = 4\nsecret_key =\n\n"
                  "[http]\naddress = 127.0.0.1\nport = 0\nmax_body_size = 1048576\nmax_connections = 256\n"
                  "max_connections_per_address = 64\nheader_timeout = 5\nrequest_timeout = "
                  "30\ntls_certificate =\ntls_key =\n\n"
                  "[log]\nlevel = info\nfile =\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("# Config file: (none)"), std::string::npos);
}

TEST(Config, SecretNeverAppearsInErrorMessages) {
    TempDir dir;
    const Args with_secret_env = {"FERRY_COMPONENT_SECRET=" + secret};
    const std::vector<std::function<std::string()>> failures = {
        [&] { return load_error({"--component.secrt=" + secret}, required_env); },
        [&] {
            return load_error({"--component.secrt", secret}, required_env);
        },
        [&] { return load_error({"-x" + secret}, required_env); },
        [&] {
            return load_error({"--component.secret", "two", "words"}, {"FERRY_COMPONENT_DOMAIN=a"});
        },
        [&] {
            return load_error({"--component.secret", secret, "--component.port", "0"}, required_env);
        },
        [&] {
            return load_error({"--component.secret", secret}, {});
        },
        [&] {
            return load_error({}, {"FERRY_COMPONENT_SECRT=" + secret, "FERRY_COMPONENT_DOMAIN=a"});
        },
        [&] { return load_error({"--component.domain=a@b"}, with_secret_env); },
        [&] { return load_error({"--component.reconnect_min_delay=100"}, required_env); },
        [&] {
            const auto path = dir.write("a.conf", "[component]\nsecrt = " + secret + "\n");
            return load_error({"-c", path}, {"FERRY_COMPONENT_DOMAIN=a"});
        },
        [&] {
            const auto path = dir.write("b.conf", "[component]\nsecret " + secret + "\n");
            return load_error({"-c", path}, {"FERRY_COMPONENT_DOMAIN=a"});
        },
        [&] {
            const auto path = dir.write("c.conf", "[component]\nsecret = " + secret + "\nport = x\n");
            return load_error({"-c", path}, {"FERRY_COMPONENT_DOMAIN=a"});
        },
    };
    for (std::size_t i = 0; i < failures.size(); ++i) {
        const std::string message = failures[i]();
        EXPECT_FALSE(message.empty()) << "case " << i;
        EXPECT_EQ(message.find(secret), std::string::npos) << "case " << i << ": " << message;
        EXPECT_EQ(message.find("words"), std::string::npos) << "case " << i << ": " << message;
    }
}

TEST(Config, DescribeConfigOutputLoadsBackToSameConfig) {
    Args args;
    for (const auto& [name, value] : all_options)
        args.push_back("--" + name + "=" + value);
    const Config original = load_config(args, {});

    TempDir dir;
    const std::string path = dir.write("described.conf", describe_config(original));
    Config reloaded = load_config({"--config", path}, {});
    EXPECT_EQ(reloaded.component.secret, "<redacted>");
    reloaded.component.secret = original.component.secret;
    reloaded.config_file = original.config_file;
    EXPECT_EQ(reloaded, original);

    const Config defaults = load_config({}, required_env);
    const std::string defaults_path = dir.write("defaults.conf", describe_config(defaults));
    Config reloaded_defaults = load_config({"-c", defaults_path}, {"FERRY_COMPONENT_SECRET=" + secret});
    reloaded_defaults.config_file.clear();
    EXPECT_EQ(reloaded_defaults, defaults);
}

TEST(Config, OptionsHelpListsEveryOptionWithDefault) {
    const std::string help = options_help();
    const std::string described = describe_config(Config{});
    std::istringstream lines(described);
    std::string line;
    std::string section;
    while (std::getline(lines, line)) {
        if (line.starts_with("[")) {
            section = line.substr(1, line.size() - 2);
        } else if (!line.empty() && !line.starts_with("#")) {
            const std::string key = line.substr(0, line.find(" ="));
            EXPECT_NE(help.find("--" + section + "." + key + " "), std::string::npos) << key;
            EXPECT_NE(help.find(env_name(section + "." + key)), std::string::npos) << key;
        }
    }
    EXPECT_NE(help.find("--component.port PORT   (default: 5347)"), std::string::npos) << help;
    EXPECT_NE(help.find("--component.secret SECRET   (required)"), std::string::npos) << help;
    EXPECT_NE(help.find("-c, --config PATH"), std::string::npos) << help;
    EXPECT_NE(help.find("command line > FERRY_* environment > config file > defaults"), std::string::npos);
    std::istringstream help_lines(help);
    while (std::getline(help_lines, line))
        EXPECT_LE(line.size(), 80u) << line;
}

TEST(Config, ExampleConfigFileIsValidAndDocumentsEveryOption) {
#ifndef FERRY_SOURCE_DIR
    GTEST_SKIP() << "FERRY_SOURCE_DIR is not defined";
#else
    const std::string path = std::string(FERRY_SOURCE_DIR) + "/examples/ferry.conf";
    const Config config = load_config({"--config", path}, {"FERRY_COMPONENT_SECRET=" + secret});
    EXPECT_EQ(config.component.domain, "ferry.example.org");
    Config expected;
    expected.config_file = path;
    expected.component.domain = "ferry.example.org";
    expected.component.secret = secret;
    EXPECT_EQ(config, expected);

    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::istringstream lines(describe_config(Config{}));
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && !line.starts_with("#") && !line.starts_with("[")) {
            EXPECT_NE(text.str().find(line.substr(0, line.find(" =")) + " ="), std::string::npos) << line;
        }
    }
#endif
}

TEST(Config, AnHttpListenerNeedsTheStore) {
    Args env = required_env;
    env.push_back("FERRY_HTTP_PORT=8787");
    const std::string message = load_error({}, env);
    EXPECT_NE(message.find("http.port is set (from environment variable FERRY_HTTP_PORT) but database.url is "
                           "not"),
              std::string::npos)
        << message;
    env.push_back("FERRY_DATABASE_URL=postgresql://ferry@127.0.0.1/ferry");
    EXPECT_EQ(load_config({}, env).http.port, 8787);
}

TEST(Config, OptionsThatDoNothingWithTheRestAreErrors) {
    const std::string url = "--database.url=postgresql://ferry@127.0.0.1/ferry";
    const auto with = [&](Args extra) {
        Args args = required_args;
        args.insert(args.end(), extra.begin(), extra.end());
        return load_error(args, {});
    };
    EXPECT_NE(
        with({url, "--http.max_body_size", "2048"})
            .find("http.max_body_size does nothing while http.port is 0 (no HTTP listener) (from command "
                  "line --http.max_body_size)"),
        std::string::npos);
    EXPECT_NE(
        with({"--database.pool_size", "8"}).find("database.pool_size does nothing without database.url"),
        std::string::npos);
    EXPECT_NE(with({"--component.tls_verify", "false"})
                  .find("component.tls_verify does nothing while component.tls is false"),
              std::string::npos);
    // Defaults given explicitly (as the example file does) do nothing either way: not an error.
    Args defaults = required_args;
    for (const char* arg : {"--http.max_body_size", "1048576", "--component.tls_verify", "true"})
        defaults.emplace_back(arg);
    EXPECT_NO_THROW(load_config(defaults, {}));
}

TEST(Config, AnOptionFromAFileIsNamedWithItsLine) {
    TempDir dir;
    const std::string path =
        dir.write("ferry.conf", "[component]\ndomain = ferry.example.org\n\n# a comment\n"
                                "port = 99999\n");
    const std::string message = load_error({"--config", path, "--component.secret", secret}, {});
    EXPECT_NE(message.find("component.port: \"99999\" is not a port number (1-65535) (from config file " +
                           path + ", line 5)"),
              std::string::npos)
        << message;
}

} // namespace
} // namespace ferry::core
