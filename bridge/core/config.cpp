#include "bridge/core/config.hpp"

#include "bridge/pg/conninfo.hpp"
#include "bridge/store/accounts/secret_box.hpp"
#include "bridge/text/utf8.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

namespace ferry::core {
namespace {

namespace po = boost::program_options;

constexpr double max_seconds = 86400.0;
constexpr std::size_t max_domain_bytes = 1023;
constexpr std::string_view blanks = " \t\r\n\v\f";

/// One option's text as one source gave it, before conversion.
struct RawValue {
    std::string name;   // "component.port"
    std::string value;  // "5347"
    std::string origin; // "config file /etc/ferry.conf", "environment variable FERRY_COMPONENT_PORT", ...
};

/// Raw values of one source, by option name.
using RawValues = std::map<std::string, RawValue>;

[[noreturn]] void reject(const RawValue& raw, std::string_view problem) {
    throw ConfigError(raw.name + ": \"" + raw.value + "\" " + std::string(problem) + " (from " + raw.origin +
                      ")");
}

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

std::string uppercase(std::string_view text) {
    std::string result(text);
    std::ranges::transform(result, result.begin(), [](unsigned char c) { return std::toupper(c); });
    return result;
}

bool has_control_character(std::string_view text) {
    return std::ranges::any_of(text, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::uint64_t parse_whole(const RawValue& raw, std::uint64_t min, std::uint64_t max,
                          std::string_view problem) {
    std::uint64_t value = 0;
    const char* end = raw.value.data() + raw.value.size();
    const auto [stop, error] = std::from_chars(raw.value.data(), end, value);
    if (raw.value.empty() || error != std::errc{} || stop != end || value < min || value > max)
        reject(raw, problem);
    return value;
}

std::uint16_t parse_port(const RawValue& raw) {
    return static_cast<std::uint16_t>(parse_whole(raw, 1, 65535, "is not a port number (1-65535)"));
}

std::size_t parse_size(const RawValue& raw, std::size_t min, std::size_t max) {
    const std::string problem =
        max == std::numeric_limits<std::size_t>::max()
            ? "is not a whole number of at least " + std::to_string(min)
            : "is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    return static_cast<std::size_t>(parse_whole(raw, min, max, problem));
}

double parse_seconds(const RawValue& raw) {
    double value = 0;
    const char* end = raw.value.data() + raw.value.size();
    const auto [stop, error] = std::from_chars(raw.value.data(), end, value);
    if (raw.value.empty() || error != std::errc{} || stop != end || !std::isfinite(value) || value <= 0 ||
        value > max_seconds)
        reject(raw, "is not a duration in seconds (a decimal number greater than 0 and at most 86400)");
    return value;
}

bool parse_bool(const RawValue& raw) {
    const std::string value = text::ascii_lowercase(raw.value);
    if (value == "true" || value == "yes" || value == "on" || value == "1")
        return true;
    if (value == "false" || value == "no" || value == "off" || value == "0")
        return false;
    reject(raw, "is not a boolean (true/false, yes/no, on/off, 1/0)");
}

std::string parse_domain(const RawValue& raw) {
    const std::string_view value = raw.value;
    if (value.empty())
        reject(raw, "is not a valid domain: it is empty");
    if (value.find_first_of(blanks) != std::string_view::npos)
        reject(raw, "is not a valid domain: it contains whitespace");
    if (value.find_first_of("@/") != std::string_view::npos)
        reject(raw, "is not a valid domain: it must not contain '@' or '/'");
    if (value.size() > max_domain_bytes)
        reject(raw, "is not a valid domain: it is longer than 1023 bytes");
    return raw.value;
}

std::string parse_host(const RawValue& raw) {
    if (raw.value.empty() || raw.value.find_first_of(blanks) != std::string::npos)
        reject(raw, "is not a host name or address (empty or contains whitespace)");
    return raw.value;
}

std::string parse_level(const RawValue& raw) {
    if (raw.value != "debug" && raw.value != "info" && raw.value != "warning" && raw.value != "error")
        reject(raw, "is not a log level (debug, info, warning, error)");
    return raw.value;
}

std::string parse_path(const RawValue& raw) {
    if (has_control_character(raw.value))
        reject(raw, "is not a file path: it contains a control character");
    return raw.value;
}

std::string parse_conninfo(const RawValue& raw) {
    if (raw.value.empty())
        return raw.value;
    try {
        pg::check_conninfo(raw.value);
    } catch (const std::invalid_argument& e) {
        // Not reject(): the value may hold the database password.
        throw ConfigError(raw.name + " is not a PostgreSQL connection string: " + e.what() + " (from " +
                          raw.origin + ")");
    }
    return raw.value;
}

std::string parse_ip_address(const RawValue& raw) {
    boost::system::error_code error;
    boost::asio::ip::make_address(raw.value, error);
    if (error)
        reject(raw, "is not an IP address (such as 127.0.0.1, 0.0.0.0 or ::1)");
    return raw.value;
}

std::string parse_secret_key(const RawValue& raw) {
    if (raw.value.empty())
        return raw.value;
    try {
        store::SecretBox::from_base64(raw.value);
    } catch (const std::invalid_argument& e) {
        // Not reject(): never echo a key, even a malformed one.
        throw ConfigError(raw.name + " is not a usable key: " + e.what() + " (from " + raw.origin + ")");
    }
    return raw.value;
}

std::string show_bool(bool value) {
    return value ? "true" : "false";
}

std::string show_seconds(double value) {
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return std::string(buffer.data(), result.ptr);
}

/// Everything known about one option; this table drives parsing, printing and help alike.
struct OptionSpec {
    std::string_view section;
    std::string_view key;
    std::string_view value_name;
    bool required;
    std::string_view meaning;
    void (*assign)(Config&, const RawValue&);
    std::string (*show)(const Config&);

    std::string name() const { return std::string(section) + "." + std::string(key); }
    std::string env_name() const { return "FERRY_" + uppercase(section) + "_" + uppercase(key); }
};

// clang-format off
const std::array<OptionSpec, 28> option_specs{{
    {"component", "domain", "DOMAIN", true,
     "The component's JID domain, as declared on the XMPP server, e.g. ferry.example.org.",
     [](Config& c, const RawValue& r) { c.component.domain = parse_domain(r); },
     [](const Config& c) { return c.component.domain; }},
    {"component", "host", "HOST", false, "Host name or address of the XMPP server.",
     [](Config& c, const RawValue& r) { c.component.host = parse_host(r); },
     [](const Config& c) { return c.component.host; }},
    {"component", "port", "PORT", false, "The XMPP server's port for external components (1-65535).",
     [](Config& c, const RawValue& r) { c.component.port = parse_port(r); },
     [](const Config& c) { return std::to_string(c.component.port); }},
    {"component", "secret", "SECRET", true,
     "Shared secret of the component handshake (XEP-0114); never printed. Prefer the environment or a "
     "file only Ferry can read: the command line is visible to other local users.",
     [](Config& c, const RawValue& r) { c.component.secret = r.value; },
     [](const Config& c) { return std::string(c.component.secret.empty() ? "<unset>" : "<redacted>"); }},
    {"component", "tls", "BOOL", false,
     "Connect with TLS from the first byte, to a server port that speaks TLS immediately; false means "
     "plain TCP.",
     [](Config& c, const RawValue& r) { c.component.tls = parse_bool(r); },
     [](const Config& c) { return show_bool(c.component.tls); }},
    {"component", "tls_verify", "BOOL", false,
     "Verify the server's certificate when tls is on. Turn it off only for tests.",
     [](Config& c, const RawValue& r) { c.component.tls_verify = parse_bool(r); },
     [](const Config& c) { return show_bool(c.component.tls_verify); }},
    {"component", "max_stanza_size", "BYTES", false,
     "Largest stanza accepted from the server, in bytes (1024-16777216); a larger one is skipped and its "
     "sender gets a policy-violation error, the stream stays up.",
     [](Config& c, const RawValue& r) { c.component.max_stanza_size = parse_size(r, 1024, 16777216); },
     [](const Config& c) { return std::to_string(c.component.max_stanza_size); }},
    {"component", "server_max_stanza_size", "BYTES", false,
     "Largest stanza the XMPP server takes from Ferry, in bytes (4096-16777216; Prosody: 524288, ejabberd: "
     "its max_stanza_size); a text making a stanza over half of it is sent in parts.",
     [](Config& c, const RawValue& r) { c.component.server_max_stanza_size = parse_size(r, 4096, 16777216); },
     [](const Config& c) { return std::to_string(c.component.server_max_stanza_size); }},
    {"component", "max_depth", "DEPTH", false, "Deepest element nesting accepted in a stanza (4-1024).",
     [](Config& c, const RawValue& r) { c.component.max_depth = parse_size(r, 4, 1024); },
     [](const Config& c) { return std::to_string(c.component.max_depth); }},
    {"component", "reconnect_min_delay", "SECONDS", false,
     "Shortest wait before reconnecting after the connection is lost, in seconds (decimals allowed, > 0).",
     [](Config& c, const RawValue& r) { c.component.reconnect_min_delay = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.component.reconnect_min_delay); }},
    {"component", "reconnect_max_delay", "SECONDS", false,
     "Longest wait between reconnection attempts, in seconds (at least reconnect_min_delay).",
     [](Config& c, const RawValue& r) { c.component.reconnect_max_delay = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.component.reconnect_max_delay); }},
    {"component", "keepalive_interval", "SECONDS", false,
     "Seconds of silence from the server before Ferry sends a whitespace keepalive and an XEP-0199 ping "
     "(> 0).",
     [](Config& c, const RawValue& r) { c.component.keepalive_interval = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.component.keepalive_interval); }},
    {"component", "keepalive_timeout", "SECONDS", false,
     "Seconds to wait for the answer to that ping before reconnecting (> 0).",
     [](Config& c, const RawValue& r) { c.component.keepalive_timeout = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.component.keepalive_timeout); }},
    {"component", "send_queue_limit", "COUNT", false,
     "Stanzas kept while disconnected, sent once the connection is back (at least 1).",
     [](Config& c, const RawValue& r) {
         c.component.send_queue_limit = parse_size(r, 1, std::numeric_limits<std::size_t>::max());
     },
     [](const Config& c) { return std::to_string(c.component.send_queue_limit); }},
    {"database", "url", "CONNINFO", true,
     "PostgreSQL connection string, a libpq URI (postgresql://user:password@host:port/db) or key=value "
     "pairs; the password is never printed. Required by the db, connector, mapping, outbox and dead-letters "
     "commands; `ferry run` uses the store when it is set.",
     [](Config& c, const RawValue& r) { c.database.url = parse_conninfo(r); },
     [](const Config& c) { return c.database.url.empty() ? std::string() : pg::redact_conninfo(c.database.url); }},
    {"database", "pool_size", "COUNT", false, "PostgreSQL connections Ferry opens at most (1-64).",
     [](Config& c, const RawValue& r) { c.database.pool_size = parse_size(r, 1, 64); },
     [](const Config& c) { return std::to_string(c.database.pool_size); }},
    {"database", "secret_key", "KEY", false,
     "Key that encrypts account secrets in the database (AES-256-GCM): 32 random bytes in base64, e.g. from "
     "`openssl rand -base64 32`. Never printed. Needed only to store or read account secrets; keep it out of "
     "the database's backups.",
     [](Config& c, const RawValue& r) { c.database.secret_key = parse_secret_key(r); },
     // Shown empty when unset, so the description reads back; a set key is written as a comment.
     [](const Config& c) { return std::string(c.database.secret_key.empty() ? "" : "<redacted>"); }},
    {"http", "address", "ADDRESS", false,
     "IP address the HTTP listener (webhooks, /healthz, /metrics) binds to.",
     [](Config& c, const RawValue& r) { c.http.address = parse_ip_address(r); },
     [](const Config& c) { return c.http.address; }},
    {"http", "port", "PORT", false,
     "Port of the HTTP listener; 0 (the default) means no listener. It needs the store (database.url).",
     [](Config& c, const RawValue& r) {
         c.http.port = r.value == "0" ? std::uint16_t{0} : parse_port(r);
     },
     [](const Config& c) { return std::to_string(c.http.port); }},
    {"http", "max_body_size", "BYTES", false, "Largest request body accepted (1024-67108864); larger gets 413.",
     [](Config& c, const RawValue& r) { c.http.max_body_size = parse_size(r, 1024, 67108864); },
     [](const Config& c) { return std::to_string(c.http.max_body_size); }},
    {"http", "max_connections", "COUNT", false,
     "HTTP connections served at once (1-100000); more get 503 with Retry-After.",
     [](Config& c, const RawValue& r) { c.http.max_connections = parse_size(r, 1, 100000); },
     [](const Config& c) { return std::to_string(c.http.max_connections); }},
    {"http", "max_connections_per_address", "COUNT", false,
     "HTTP connections served at once for one client address (1-100000); raise it to max_connections "
     "behind a proxy or load balancer.",
     [](Config& c, const RawValue& r) { c.http.max_connections_per_address = parse_size(r, 1, 100000); },
     [](const Config& c) { return std::to_string(c.http.max_connections_per_address); }},
    {"http", "header_timeout", "SECONDS", false,
     "Seconds a client has to send a request's line and headers (> 0); slower connections are closed.",
     [](Config& c, const RawValue& r) { c.http.header_timeout = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.http.header_timeout); }},
    {"http", "request_timeout", "SECONDS", false,
     "Seconds to read one request, and how long an idle keep-alive connection stays open (> 0).",
     [](Config& c, const RawValue& r) { c.http.request_timeout = parse_seconds(r); },
     [](const Config& c) { return show_seconds(c.http.request_timeout); }},
    {"http", "tls_certificate", "PATH", false,
     "PEM file with the listener's certificate chain; with tls_key the listener speaks HTTPS only. Leave both "
     "empty behind a TLS-terminating proxy.",
     [](Config& c, const RawValue& r) { c.http.tls_certificate = parse_path(r); },
     [](const Config& c) { return c.http.tls_certificate; }},
    {"http", "tls_key", "PATH", false, "PEM file with the private key of tls_certificate.",
     [](Config& c, const RawValue& r) { c.http.tls_key = parse_path(r); },
     [](const Config& c) { return c.http.tls_key; }},
    {"log", "level", "LEVEL", false, "Lowest severity written to the log: debug, info, warning or error.",
     [](Config& c, const RawValue& r) { c.log.level = parse_level(r); },
     [](const Config& c) { return c.log.level; }},
    {"log", "file", "PATH", false, "File the log is appended to; empty means standard error.",
     [](Config& c, const RawValue& r) { c.log.file = parse_path(r); },
     [](const Config& c) { return c.log.file; }},
}};
// clang-format on

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// " (did you mean X?)" when a known name is within two typos of `unknown`, else "".
template <typename NameOf> std::string suggestion(std::string_view unknown, NameOf name_of) {
    for (const OptionSpec& spec : option_specs) {
        const std::string candidate = name_of(spec);
        if (edit_distance(unknown, candidate) <= 2)
            return " (did you mean " + candidate + "?)";
    }
    return {};
}

/// Like suggestion(), and also points a key written outside its section to that section.
std::string file_suggestion(const std::string& name) {
    const auto misplaced =
        std::ranges::find_if(option_specs, [&](const OptionSpec& s) { return name == s.key; });
    if (misplaced != option_specs.end())
        return " (did you mean " + name + " in [" + std::string(misplaced->section) + "]?)";
    return suggestion(name, [](const OptionSpec& s) { return s.name(); });
}

void add_value(RawValues& values, RawValue raw, std::string_view where) {
    if (values.contains(raw.name))
        throw ConfigError(raw.name + " is given more than once " + std::string(where));
    values.emplace(raw.name, std::move(raw));
}

po::options_description option_descriptions(bool with_config) {
    po::options_description description;
    if (with_config)
        description.add_options()("config,c", po::value<std::string>());
    for (const OptionSpec& spec : option_specs)
        description.add_options()(spec.name().c_str(), po::value<std::string>());
    return description;
}

struct Source {
    std::optional<std::string> config_file;
    RawValues values;
};

/// Whether a command-line value is in fact one of our options, i.e. the option before it lacks its value.
bool is_option_name(std::string_view value) {
    const std::string_view name = value.substr(0, value.find('='));
    return name == "-c" || name == "--config" ||
           std::ranges::any_of(option_specs, [&](const OptionSpec& s) { return name == "--" + s.name(); });
}

/// "--name=" (an empty value) becomes "--name" "", which Program_options accepts.
std::vector<std::string> split_empty_assignments(const std::vector<std::string>& args) {
    std::vector<std::string> tokens;
    bool options_ended = false;
    for (const std::string& arg : args) {
        options_ended = options_ended || arg == "--";
        if (!options_ended && arg.starts_with("--") && arg.size() > 3 && arg.ends_with('=') &&
            arg.find('=') == arg.size() - 1) {
            tokens.push_back(arg.substr(0, arg.size() - 1));
            tokens.emplace_back();
        } else {
            tokens.push_back(arg);
        }
    }
    return tokens;
}

Source parse_command_line(const std::vector<std::string>& args) {
    po::parsed_options parsed(nullptr);
    try {
        const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
        parsed = po::command_line_parser(split_empty_assignments(args))
                     .options(option_descriptions(true))
                     .style(style)
                     .allow_unregistered()
                     .run();
    } catch (const po::error& error) {
        throw ConfigError(std::string("command line: ") + error.what());
    }
    Source source;
    for (std::size_t i = 0; i < parsed.options.size(); ++i) {
        const po::option& option = parsed.options[i];
        if (option.position_key >= 0) {
            // Never echo an argument that follows the secret: it is likely a piece of an unquoted secret.
            if (i > 0 && (parsed.options[i - 1].string_key == "component.secret" ||
                          parsed.options[i - 1].string_key == "database.secret_key"))
                throw ConfigError("unexpected command line argument after --" +
                                  parsed.options[i - 1].string_key + " (quote a value that contains spaces)");
            throw ConfigError("unexpected command line argument \"" + option.value.at(0) +
                              "\" (options take the form --section.key VALUE)");
        }
        if (option.unregistered) {
            std::string token =
                option.original_tokens.empty() ? option.string_key : option.original_tokens[0];
            // Cut any value off: it may be the secret given under a misspelt name.
            token = token.starts_with("--") ? token.substr(0, token.find('=')) : token.substr(0, 2);
            throw ConfigError("unknown command line option \"" + token + "\"" +
                              suggestion(token, [](const OptionSpec& s) { return "--" + s.name(); }));
        }
        if (option.string_key == "config") {
            if (source.config_file)
                throw ConfigError("--config is given more than once on the command line");
            if (option.value.at(0).empty())
                throw ConfigError("--config: the config file path is empty");
            source.config_file = option.value.at(0);
            continue;
        }
        if (is_option_name(option.value.at(0)))
            throw ConfigError(
                "--" + option.string_key + " is missing its value on the command line (the next " +
                "argument is the option " + option.value.at(0).substr(0, option.value.at(0).find('=')) + ")");
        add_value(source.values,
                  RawValue{option.string_key, option.value.at(0), "command line --" + option.string_key},
                  "on the command line");
    }
    return source;
}

Source parse_environment(const std::vector<std::string>& environment) {
    Source source;
    std::vector<std::string> seen;
    for (const std::string& entry : environment) {
        const auto equals = entry.find('=');
        if (equals == std::string::npos || !entry.starts_with("FERRY_"))
            continue;
        const std::string name = entry.substr(0, equals);
        if (std::ranges::find(seen, name) != seen.end())
            continue; // the first definition wins, as with getenv
        seen.push_back(name);
        std::string value = entry.substr(equals + 1);
        if (name == "FERRY_CONFIG") {
            if (!value.empty())
                source.config_file = std::move(value);
            continue;
        }
        const auto spec =
            std::ranges::find_if(option_specs, [&](const OptionSpec& s) { return s.env_name() == name; });
        if (spec == option_specs.end()) {
            // Only names inside a known section are typos worth stopping for; FERRY_BIN and the like
            // belong to scripts around Ferry.
            const bool in_known_section = std::ranges::any_of(option_specs, [&](const OptionSpec& s) {
                return name.starts_with("FERRY_" + uppercase(s.section) + "_");
            });
            if (!in_known_section)
                continue;
            throw ConfigError("unknown environment variable " + name +
                              suggestion(name, [](const OptionSpec& s) { return s.env_name(); }));
        }
        source.values.emplace(spec->name(),
                              RawValue{spec->name(), std::move(value), "environment variable " + name});
    }
    return source;
}

/// Drops ';' comment lines (Program_options knows only '#') and rejects lines that are neither a section nor
/// "key = value", naming the line number but not its text, which may hold the secret. `lines` learns on which
/// line each "section.key" is given.
std::string prepare_file_text(std::string text, const std::string& path, std::map<std::string, int>& lines) {
    if (text.starts_with("\xEF\xBB\xBF"))
        text.erase(0, 3);
    std::istringstream input(text);
    std::string prepared;
    std::string line;
    std::string section_name;
    for (int number = 1; std::getline(input, line); ++number) {
        const std::string_view content = trim(line);
        const std::string_view code = trim(content.substr(0, content.find('#')));
        const bool section = code.starts_with('[') && code.ends_with(']');
        if (!code.empty() && !section &&
            (code.find('=') == std::string_view::npos || code.starts_with('=')) && !code.starts_with(';'))
            throw ConfigError("config file " + path + ", line " + std::to_string(number) +
                              ": expected \"key = value\", \"[section]\" or a comment");
        if (section)
            section_name = std::string(trim(code.substr(1, code.size() - 2)));
        else if (!code.empty() && !code.starts_with(';'))
            lines.emplace((section_name.empty() ? "" : section_name + ".") +
                              std::string(trim(code.substr(0, code.find('=')))),
                          number);
        prepared += content.starts_with(';') ? std::string() : line;
        prepared += '\n';
    }
    return prepared;
}

RawValues read_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::error_code ignored;
    if (!in || std::filesystem::is_directory(path, ignored)) {
        const int error = !in ? errno : EISDIR;
        throw ConfigError("cannot read config file " + path + ": " +
                          (error != 0 ? std::strerror(error) : "cannot be opened"));
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::map<std::string, int> lines;
    std::istringstream prepared(prepare_file_text(text.str(), path, lines));
    po::parsed_options parsed(nullptr);
    try {
        parsed = po::parse_config_file(prepared, option_descriptions(false), true);
    } catch (const po::error&) {
        // Program_options would quote the offending line, which may hold the secret.
        throw ConfigError("config file " + path + " is not a valid INI file");
    }
    RawValues values;
    for (const po::option& option : parsed.options) {
        if (option.unregistered)
            throw ConfigError("unknown option \"" + option.string_key + "\" in " + path +
                              file_suggestion(option.string_key));
        const std::string value = option.value.empty() ? std::string() : option.value[0];
        const auto line = lines.find(option.string_key);
        add_value(
            values,
            RawValue{option.string_key, value,
                     "config file " + path +
                         (line == lines.end() ? std::string() : ", line " + std::to_string(line->second))},
            "in " + path);
    }
    return values;
}

std::string where_to_set(const OptionSpec& spec) {
    return "set it in [" + std::string(spec.section) + "] " + std::string(spec.key) + ", --" + spec.name() +
           " or " + spec.env_name();
}

void check_delays(const Config& config, const std::map<std::string, RawValue>& chosen) {
    if (config.component.reconnect_min_delay <= config.component.reconnect_max_delay)
        return;
    const auto describe = [&](const std::string& name, double value) {
        const auto found = chosen.find(name);
        return found == chosen.end()
                   ? name + " (" + show_seconds(value) + ", the default)"
                   : name + " (\"" + found->second.value + "\" from " + found->second.origin + ")";
    };
    throw ConfigError(describe("component.reconnect_min_delay", config.component.reconnect_min_delay) +
                      " must not be greater than " +
                      describe("component.reconnect_max_delay", config.component.reconnect_max_delay));
}

void wrap(std::string& out, std::string_view text, std::string_view indent, std::size_t width) {
    std::size_t column = 0;
    std::istringstream words{std::string(text)};
    std::string word;
    while (words >> word) {
        if (column > 0 && column + 1 + word.size() > width) {
            out += '\n';
            column = 0;
        }
        out += column == 0 ? std::string(indent) : std::string(" ");
        column += column == 0 ? indent.size() : 1;
        out += word;
        column += word.size();
    }
    out += '\n';
}

/// An option given a value other than its default that cannot do anything with the rest of the
/// configuration is an error, as a bad value is: the operator believes it does something.
void check_effective(const Config& config, const std::map<std::string, RawValue>& chosen) {
    const Config defaults;
    const auto changed = [&](const OptionSpec& spec) -> const RawValue* {
        const auto found = chosen.find(spec.name());
        return found != chosen.end() && spec.show(config) != spec.show(defaults) ? &found->second : nullptr;
    };
    const auto origin = [](const RawValue& raw) { return " (from " + raw.origin + ")"; };
    for (const OptionSpec& spec : option_specs) {
        const RawValue* raw = changed(spec);
        if (raw == nullptr)
            continue;
        const std::string name = spec.name();
        if (name == "http.port" && config.database.url.empty())
            throw ConfigError(
                "http.port is set" + origin(*raw) +
                " but database.url is not: the HTTP listener serves webhooks into the store and "
                "/healthz and /metrics about it; set database.url too, or leave http.port out");
        const auto pointless = [&](std::string_view without, std::string_view needed) {
            std::string message = name;
            message.append(" does nothing ").append(without).append(origin(*raw));
            message.append("; set ").append(needed).append(" too, or leave ").append(name).append(" out");
            return ConfigError(message);
        };
        if (spec.section == "http" && name != "http.port" && config.http.port == 0)
            throw pointless("while http.port is 0 (no HTTP listener)", "http.port");
        if (spec.section == "database" && name != "database.url" && config.database.url.empty())
            throw pointless("without database.url", "database.url");
        if (name == "component.tls_verify" && !config.component.tls)
            throw ConfigError(
                "component.tls_verify does nothing while component.tls is false" + origin(*raw) +
                "; set component.tls = true for a server port that speaks TLS, or leave it out");
    }
}

} // namespace

Config load_config(const std::vector<std::string>& args, const std::vector<std::string>& environment,
                   ConfigNeeds needs) {
    const Source command_line = parse_command_line(args);
    const Source environment_source = parse_environment(environment);
    Config config;
    config.config_file = command_line.config_file.value_or(environment_source.config_file.value_or(""));
    const RawValues file = config.config_file.empty() ? RawValues{} : read_config_file(config.config_file);

    std::map<std::string, RawValue> chosen;
    for (const RawValues* source : {&command_line.values, &environment_source.values, &file})
        for (const auto& [name, raw] : *source)
            chosen.emplace(name, raw); // the first, most important source keeps its value
    for (const OptionSpec& spec : option_specs) {
        const auto found = chosen.find(spec.name());
        if (found != chosen.end())
            spec.assign(config, found->second);
    }
    for (const OptionSpec& spec : option_specs) {
        const auto found = chosen.find(spec.name());
        const bool needed = (spec.section == "component" && needs.component) ||
                            (spec.section == "database" && needs.database);
        if (spec.required && needed && (found == chosen.end() || found->second.value.empty()))
            throw ConfigError(spec.name() + " is required (" + where_to_set(spec) + ")");
    }
    check_delays(config, chosen);
    check_effective(config, chosen);
    return config;
}

std::string describe_config(const Config& config) {
    std::string out = "# Effective Ferry configuration; secrets are not shown.\n";
    out +=
        "# Config file: " + (config.config_file.empty() ? std::string("(none)") : config.config_file) + "\n";
    std::string_view section;
    for (const OptionSpec& spec : option_specs) {
        if (spec.section != section) {
            section = spec.section;
            out += "\n[" + std::string(section) + "]\n";
        }
        const std::string value = spec.show(config);
        if (spec.section == "database" && spec.key == "secret_key" && !value.empty()) {
            out += "# secret_key = <redacted> (set; give it again through FERRY_DATABASE_SECRET_KEY)\n";
            continue;
        }
        out += std::string(spec.key) + (value.empty() ? " =" : " = " + value) + "\n";
    }
    return out;
}

std::string options_help() {
    std::string out;
    wrap(out,
         "Options. Each one can also be set in the config file, as the key in its [section], or in the "
         "environment.",
         "", 78);
    out += "Precedence: command line > FERRY_* environment > config file > defaults.\n";
    out += "\n  -c, --config PATH   (default: none)\n";
    wrap(out, "INI config file to read; without it or FERRY_CONFIG no file is read.", "      ", 78);
    out += "      Environment: FERRY_CONFIG\n";
    const Config defaults;
    for (const OptionSpec& spec : option_specs) {
        const std::string value = spec.show(defaults);
        // The database section is required by the store commands only; `run` uses it when it is set.
        const std::string required =
            spec.section == "database" ? "required by the store commands" : "required";
        const std::string default_text = spec.required   ? required
                                         : value.empty() ? "default: empty"
                                                         : "default: " + value;
        out += "\n  --" + spec.name() + " " + std::string(spec.value_name) + "   (" + default_text + ")\n";
        wrap(out, spec.meaning, "      ", 78);
        out += "      Environment: " + spec.env_name() + "\n";
        out += "      Config file: " + std::string(spec.key) + " in [" + std::string(spec.section) + "]\n";
    }
    return out;
}

} // namespace ferry::core
