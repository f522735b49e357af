#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::core {

/// The connection to the XMPP server as an external component (XEP-0114): INI section [component].
struct ComponentConfig {
    std::string domain;                    // required; the component's JID domain, e.g. ferry.example.org
    std::string host = "localhost";        // XMPP server host name or address
    std::uint16_t port = 5347;             // 1..65535
    std::string secret;                    // required; never printed
    bool tls = false;                      // direct TLS to a server port that speaks TLS immediately
    bool tls_verify = true;                // verify the server certificate when tls is on
    std::size_t max_stanza_size = 1048576; // bytes from the server; 1024..16777216
    std::size_t server_max_stanza_size = 524288; // bytes the server takes from us; 4096..16777216
    std::size_t max_depth = 64;                  // element nesting; 4..1024
    double reconnect_min_delay = 1.0;            // seconds, > 0
    double reconnect_max_delay = 60.0;           // seconds, >= reconnect_min_delay
    double keepalive_interval = 60.0;     // seconds of silence before a whitespace + XEP-0199 ping, > 0
    double keepalive_timeout = 20.0;      // seconds to wait for the ping answer before reconnecting, > 0
    std::size_t send_queue_limit = 10000; // stanzas kept while disconnected, >= 1

    bool operator==(const ComponentConfig&) const = default;
};

/// Logging: INI section [log].
struct LogConfig {
    std::string level = "info"; // debug|info|warning|error
    std::string file;           // empty = stderr

    bool operator==(const LogConfig&) const = default;
};

/// The PostgreSQL store: INI section [database].
struct DatabaseConfig {
    std::string url;           // libpq URI or key=value string; holds the password, never printed
    std::size_t pool_size = 4; // 1..64
    std::string secret_key;    // base64 of 32 bytes; encrypts account secrets at rest; never printed

    bool operator==(const DatabaseConfig&) const = default;
};

/// The HTTP listener for webhooks, /healthz and /metrics: INI section [http]. Off while port is 0.
struct HttpConfig {
    std::string address = "127.0.0.1";            // an IP address to listen on
    std::uint16_t port = 0;                       // 0 = no listener; 1..65535
    std::size_t max_body_size = 1048576;          // bytes; 1024..67108864
    std::size_t max_connections = 256;            // 1..100000
    std::size_t max_connections_per_address = 64; // 1..100000
    double header_timeout = 5.0;                  // seconds to read a request's line and headers
    double request_timeout = 30.0;                // seconds to read a request, and of idle keep-alive
    std::string tls_certificate;                  // PEM chain file; set with tls_key: HTTPS instead of HTTP
    std::string tls_key;                          // PEM private key file

    bool operator==(const HttpConfig&) const = default;
};

/// Which sections a command cannot do without: their required options must then be set.
struct ConfigNeeds {
    bool component = true;
    bool database = false;
};

/// The whole, validated configuration. Every duration is in seconds, at most 86400 (one day).
struct Config {
    std::string config_file; // the file that was read; empty when none was given
    ComponentConfig component;
    DatabaseConfig database;
    HttpConfig http;
    LogConfig log;

    bool operator==(const Config&) const = default;
};

/// A configuration that cannot be used. The message names the option, the offending value and where it came
/// from; it never contains the secret.
class ConfigError : public std::runtime_error {
public:
    using runtime_error::runtime_error;
};

/// Builds the configuration from defaults, an optional INI file, FERRY_* environment variables and the
/// command line, then validates it. Throws ConfigError on any unknown option, malformed value or missing
/// required option.
/// args: the options after the subcommand (e.g. {"--config", "f.conf", "--component.port", "5348"});
/// environment: "NAME=value" strings (pass environ in main, a fixed list in tests).
/// Precedence: command line > FERRY_* environment > config file > defaults.
/// The file is named by --config PATH / -c PATH, else FERRY_CONFIG; without either no file is read.
Config load_config(const std::vector<std::string>& args, const std::vector<std::string>& environment,
                   ConfigNeeds needs = {});

/// The effective configuration as an INI document that load_config reads back (every option, secrets shown
/// as "<redacted>" – or "<unset>" if empty).
std::string describe_config(const Config& config);

/// Help text listing every option with its command-line flag, environment variable, default and meaning
/// (for `ferry help`/`--help`).
std::string options_help();

} // namespace ferry::core
