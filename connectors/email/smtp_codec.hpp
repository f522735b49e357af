#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

// What SMTP (RFC 5321) and LMTP (RFC 2033) say on the wire, for Ferry's client and its server alike:
// replies with enhanced status codes (RFC 3463), commands and their paths, and the mail data's dot-stuffing.
namespace ferry::connectors::email {

/// One reply: `250 2.1.5 Ok`, or several lines of one code.
struct SmtpReply {
    int code = 0;
    std::string enhanced;           ///< `2.1.5`, or empty when the server gave none
    std::vector<std::string> lines; ///< each line's text, after the code and the enhanced code

    bool positive() const { return code >= 200 && code < 400; }
    bool transient() const { return code >= 400 && code < 500; }
    bool permanent() const { return code >= 500; }
    /// `550 5.1.1 text…` on one line, for errors and logs (control characters removed).
    std::string summary() const;
};

/// The reply as the wire carries it: every line with the code (`250-` before the last), the enhanced code
/// on each (RFC 2034), CRLF after each. Lines are cleaned of CR and LF.
std::string format_reply(int code, std::string_view enhanced, const std::vector<std::string>& lines);
std::string format_reply(int code, std::string_view enhanced, std::string_view text);

/// Reads replies from what a server sent; one reply per call, as soon as it is whole.
class ReplyReader {
public:
    static constexpr std::size_t max_line = 2048; ///< RFC 5321 allows 512; servers are known to exceed it
    static constexpr std::size_t max_lines = 100;

    /// The next whole reply at the start of `buffer`, removed from it; nullopt when more bytes are needed.
    /// Throws std::runtime_error when what arrived is not a reply (no code, mixed codes, too long).
    static std::optional<SmtpReply> next(std::string& buffer);
};

/// A command line (without its CRLF): the verb in upper case and what follows it.
struct SmtpCommand {
    std::string verb;
    std::string argument;
};
SmtpCommand parse_command(std::string_view line);

/// `FROM:<a@b> SIZE=10` or `TO:<a@b>`: the address between the brackets (empty for `<>`) and the
/// parameters (keywords upper case). The reason, for a `501 5.5.4` or `501 5.1.3`, when it is not one.
struct SmtpPath {
    std::string address;
    std::map<std::string, std::string> parameters;
};
std::variant<SmtpPath, std::string> parse_path(std::string_view argument, std::string_view keyword);

/// The mail as DATA sends it: lines starting with a dot get another (RFC 5321 section 4.5.2), the last line
/// ends with CRLF, and `.` CRLF ends it. `mail` must use CRLF line ends.
std::string dot_stuffed(std::string_view mail);

/// The server's side of DATA: takes what arrives in pieces, removes the dot-stuffing, and finds the end, a
/// line holding only a dot (only CRLF . CRLF ends the data: a bare LF never does, so no command can be
/// smuggled after a fake end). Keeps at most `max_size` bytes; beyond that it reads on to the end and says
/// the mail was too big.
class DataReader {
public:
    explicit DataReader(std::size_t max_size) : max_size_(max_size) {}

    /// Takes bytes from the start of `buffer` (and removes them): all of them, or up to the end of the data
    /// when it is in there, leaving what follows (a pipelined command). True once the end was seen.
    bool take(std::string& buffer);
    bool too_big() const { return too_big_; }
    /// The mail, unstuffed, with CRLF line ends (empty when it was too big).
    std::string& mail() { return mail_; }

private:
    void keep(std::string_view bytes);

    std::size_t max_size_;
    std::string mail_;
    bool too_big_ = false;
    bool at_line_start_ = true;
};

} // namespace ferry::connectors::email
