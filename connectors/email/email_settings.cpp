#include "connectors/email/email_settings.hpp"

#include "bridge/store/mapping.hpp"
#include "bridge/text/utf8.hpp"
#include "connectors/email/mail_address.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

namespace ferry::connectors::email {

namespace {

constexpr std::size_t min_size = 1024;
constexpr std::size_t max_max_size = 1073741824;

std::uint16_t port_of(std::string_view text, std::string_view setting) {
    unsigned port = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (error != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535)
        throw std::invalid_argument(std::string(setting) + ": \"" + text::printable(text) +
                                    "\" is not a port (1 to 65535)");
    return static_cast<std::uint16_t>(port);
}

/// `host:port`, `[v6 address]:port`; the port may be left out when there is a default.
std::pair<std::string, std::uint16_t> host_and_port(std::string_view text, std::string_view setting,
                                                    std::optional<std::uint16_t> default_port) {
    std::string_view host = text;
    std::optional<std::uint16_t> port = default_port;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument(std::string(setting) + ": a [ without its ]");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                throw std::invalid_argument(std::string(setting) + ": give [address]:port");
            port = port_of(text.substr(close + 2), setting);
        }
    } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = port_of(text.substr(colon + 1), setting);
    }
    if (host.empty())
        throw std::invalid_argument(std::string(setting) + ": no host in \"" + text::printable(text) + "\"");
    if (!port)
        throw std::invalid_argument(std::string(setting) + ": give address:port, e.g. 127.0.0.1:2424");
    return {std::string(host), *port};
}

} // namespace

std::vector<core::SettingSpec> setting_specs() {
    return {
        {"mail_domain", true, false, "",
         "the domain of Ferry's return paths and Message-IDs, which your MTA routes to Ferry"},
        {"relay", false, false, "",
         "HOST[:PORT] of the SMTP relay Ferry sends through (port 587 if left out)"},
        {"relay_tls", false, false, "starttls", "starttls, tls (from the first byte, port 465) or none"},
        {"relay_ca", false, false, "", "a CA file to verify the relay by (default: the system's)"},
        {"user", false, false, "", "the user name Ferry logs in to the relay with"},
        {"password", false, true, "", "its password"},
        {"listen", false, false, "",
         "ADDRESS:PORT where Ferry takes mail from your MTA, e.g. 127.0.0.1:2424"},
        {"listen_protocol", false, false, "lmtp", "lmtp or smtp: how your MTA delivers to Ferry"},
        {"max_size", false, false, "26214400", "the largest mail Ferry takes, in bytes"},
        {"authserv_id", false, false, "",
         "the name your MTA writes its Authentication-Results under (e.g. mx.example.org): mail failing "
         "DMARC "
         "there is refused"},
        {"dmarc_failed", false, false, "refuse",
         "refuse (550 5.7.1) or mark: what becomes of mail failing DMARC"},
        {"trim_replies", false, false, "yes",
         "yes or no: show replies without the quoted mail and the signature (a note says how much was cut)"},
    };
}

EmailSettings read_settings(const nlohmann::json& settings) {
    const auto text = [&settings](std::string_view name) { return store::text_setting(settings, name); };
    EmailSettings read;
    read.mail_domain = text::ascii_lowercase(text("mail_domain"));
    if (!is_mail_domain(read.mail_domain))
        throw std::invalid_argument("mail_domain: \"" + text::printable(read.mail_domain) +
                                    "\" is not a domain name");
    if (const std::string relay = text("relay"); !relay.empty())
        std::tie(read.relay_host, read.relay_port) = host_and_port(relay, "relay", 587);
    if (const std::string tls = text("relay_tls"); tls == "tls")
        read.relay_tls = RelayTls::implicit;
    else if (tls == "none")
        read.relay_tls = RelayTls::none;
    else if (!tls.empty() && tls != "starttls")
        throw std::invalid_argument("relay_tls is starttls, tls or none, not \"" + text::printable(tls) +
                                    "\"");
    read.relay_ca = text("relay_ca");
    if (!read.relay_ca.empty() && !read.relay_ca.starts_with('/'))
        throw std::invalid_argument("relay_ca is an absolute file name");
    read.user = text("user");
    read.password = text("password");
    if (read.user.empty() != read.password.empty())
        throw std::invalid_argument("user and password go together: give both or neither");
    if (const std::string listen = text("listen"); !listen.empty()) {
        std::tie(read.listen_address, read.listen_port) = host_and_port(listen, "listen", std::nullopt);
        boost::system::error_code error;
        boost::asio::ip::make_address(read.listen_address, error);
        if (error)
            throw std::invalid_argument("listen: \"" + text::printable(read.listen_address) +
                                        "\" is not an IP address");
    }
    if (const std::string protocol = text("listen_protocol"); protocol == "smtp")
        read.listen_smtp = true;
    else if (!protocol.empty() && protocol != "lmtp")
        throw std::invalid_argument("listen_protocol is lmtp or smtp, not \"" + text::printable(protocol) +
                                    "\"");
    if (const std::string size = text("max_size"); !size.empty()) {
        std::size_t value = 0;
        const auto [end, error] = std::from_chars(size.data(), size.data() + size.size(), value);
        if (error != std::errc() || end != size.data() + size.size() || value < min_size ||
            value > max_max_size)
            throw std::invalid_argument("max_size is a number of bytes from 1024 to 1073741824, not \"" +
                                        text::printable(size) + "\"");
        read.max_size = value;
    }
    read.authserv_id = text::ascii_lowercase(text("authserv_id"));
    if (!read.authserv_id.empty() && read.authserv_id.find_first_of(" \t;()\"") != std::string::npos)
        throw std::invalid_argument("authserv_id: \"" + text::printable(read.authserv_id) +
                                    "\" is not an authserv-id (a host name, as in the MTA's configuration)");
    if (const std::string failed = text("dmarc_failed"); failed == "mark")
        read.mark_dmarc_failures = true;
    else if (!failed.empty() && failed != "refuse")
        throw std::invalid_argument("dmarc_failed is refuse or mark, not \"" + text::printable(failed) +
                                    "\"");
    if (const std::string trim = text("trim_replies"); trim == "no")
        read.trim_replies = false;
    else if (!trim.empty() && trim != "yes")
        throw std::invalid_argument("trim_replies is yes or no, not \"" + text::printable(trim) + "\"");
    return read;
}

} // namespace ferry::connectors::email
