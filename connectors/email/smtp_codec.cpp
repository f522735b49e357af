#include "connectors/email/smtp_codec.hpp"

#include "bridge/text/utf8.hpp"

#include <cctype>
#include <stdexcept>

namespace ferry::connectors::email {

namespace {

/// `2.1.5` at the start of `text` (class 2, 4 or 5, then 1-3 and 1-3 digits), or its length 0.
std::size_t enhanced_length(std::string_view text) {
    if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return 0;
    std::size_t pos = 2;
    for (int part = 0; part < 2; ++part) {
        const std::size_t start = pos;
        while (pos < text.size() && pos - start < 3 &&
               std::isdigit(static_cast<unsigned char>(text[pos])) != 0)
            ++pos;
        if (pos == start)
            return 0;
        if (part == 0) {
            if (pos >= text.size() || text[pos] != '.')
                return 0;
            ++pos;
        }
    }
    return pos == text.size() || text[pos] == ' ' ? pos : 0;
}

std::string one_line(std::string_view text) {
    std::string line;
    for (char c : text)
        line += c == '\r' || c == '\n' ? ' ' : c;
    return line;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && upper(text.substr(0, prefix.size())) == prefix;
}

} // namespace

std::string SmtpReply::summary() const {
    std::string text = std::to_string(code);
    if (!enhanced.empty())
        text += " " + enhanced;
    for (const std::string& line : lines)
        if (!line.empty())
            text += " " + line;
    return text::printable(text);
}

std::string format_reply(int code, std::string_view enhanced, const std::vector<std::string>& lines) {
    std::string out;
    const std::string prefix = std::to_string(code);
    for (std::size_t i = 0; i < lines.size() || (i == 0 && lines.empty()); ++i) {
        out += prefix + (i + 1 < lines.size() ? "-" : " ");
        if (!enhanced.empty())
            out += std::string(enhanced) + " ";
        if (i < lines.size())
            out += one_line(lines[i]);
        out += "\r\n";
    }
    return out;
}

std::string format_reply(int code, std::string_view enhanced, std::string_view text) {
    return format_reply(code, enhanced, std::vector<std::string>{std::string(text)});
}

std::optional<SmtpReply> ReplyReader::next(std::string& buffer) {
    SmtpReply reply;
    std::size_t pos = 0;
    while (true) {
        const std::size_t eol = buffer.find('\n', pos);
        if (eol == std::string::npos) {
            if (buffer.size() - pos > max_line)
                throw std::runtime_error("the server's reply line is longer than " +
                                         std::to_string(max_line) + " bytes");
            return std::nullopt;
        }
        std::string_view line(buffer.data() + pos, eol - pos);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        if (line.size() > max_line)
            throw std::runtime_error("the server's reply line is longer than " + std::to_string(max_line) +
                                     " bytes");
        if (line.size() < 3 || std::isdigit(static_cast<unsigned char>(line[0])) == 0 ||
            std::isdigit(static_cast<unsigned char>(line[1])) == 0 ||
            std::isdigit(static_cast<unsigned char>(line[2])) == 0 ||
            (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
            throw std::runtime_error("the server sent something that is not a reply: \"" +
                                     text::printable(text::utf8_prefix(line, 80)) + "\"");
        const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (reply.code != 0 && code != reply.code)
            throw std::runtime_error("the server mixed reply codes " + std::to_string(reply.code) + " and " +
                                     std::to_string(code) + " in one reply");
        reply.code = code;
        std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
        if (const std::size_t length = enhanced_length(text); length > 0) {
            reply.enhanced = std::string(text.substr(0, length));
            text.remove_prefix(std::min(text.size(), length + 1));
        }
        reply.lines.emplace_back(text);
        if (reply.lines.size() > max_lines)
            throw std::runtime_error("the server's reply has more than " + std::to_string(max_lines) +
                                     " lines");
        pos = eol + 1;
        if (line.size() == 3 || line[3] == ' ') {
            buffer.erase(0, pos);
            return reply;
        }
    }
}

SmtpCommand parse_command(std::string_view line) {
    const std::size_t space = line.find(' ');
    SmtpCommand command;
    command.verb = upper(line.substr(0, space));
    if (space != std::string_view::npos)
        command.argument = std::string(line.substr(space + 1));
    return command;
}

std::variant<SmtpPath, std::string> parse_path(std::string_view argument, std::string_view keyword) {
    if (!starts_with_ignoring_case(argument, keyword))
        return "expected " + std::string(keyword) + "<address>";
    argument.remove_prefix(keyword.size());
    while (argument.starts_with(' ')) // tolerated, though RFC 5321 has no space there
        argument.remove_prefix(1);
    if (!argument.starts_with('<'))
        return std::string("the address goes between < and >");
    const std::size_t close = argument.find('>');
    if (close == std::string_view::npos)
        return std::string("the address goes between < and >");
    SmtpPath path;
    std::string_view address = argument.substr(1, close - 1);
    if (const std::size_t colon = address.find(':');
        address.starts_with('@') && colon != std::string_view::npos)
        address.remove_prefix(colon + 1); // a source route (RFC 5321 appendix C): ignored
    path.address = std::string(address);
    std::string_view rest = argument.substr(close + 1);
    while (!rest.empty()) {
        while (rest.starts_with(' '))
            rest.remove_prefix(1);
        if (rest.empty())
            break;
        const std::size_t end = std::min(rest.find(' '), rest.size());
        const std::string_view parameter = rest.substr(0, end);
        const std::size_t equals = parameter.find('=');
        const std::string keyword_name = upper(parameter.substr(0, equals));
        if (keyword_name.empty())
            return std::string("an empty parameter");
        path.parameters[keyword_name] =
            equals == std::string_view::npos ? std::string() : std::string(parameter.substr(equals + 1));
        rest.remove_prefix(end);
    }
    return path;
}

std::string dot_stuffed(std::string_view mail) {
    std::string out;
    out.reserve(mail.size() + mail.size() / 64 + 8);
    bool line_start = true;
    for (char c : mail) {
        if (line_start && c == '.')
            out += '.';
        out += c;
        line_start = c == '\n';
    }
    if (!out.empty() && !out.ends_with("\r\n"))
        out += "\r\n";
    out += ".\r\n";
    return out;
}

void DataReader::keep(std::string_view bytes) {
    if (too_big_)
        return;
    if (mail_.size() + bytes.size() > max_size_) {
        too_big_ = true;
        std::string().swap(mail_);
        return;
    }
    mail_.append(bytes);
}

bool DataReader::take(std::string& buffer) {
    constexpr std::string_view end_line = ".\r\n";
    std::size_t pos = 0;
    bool done = false;
    while (pos < buffer.size()) {
        const std::string_view rest(buffer.data() + pos, buffer.size() - pos);
        if (at_line_start_ && rest.front() == '.') {
            if (rest.starts_with(end_line)) {
                pos += end_line.size();
                done = true;
                break;
            }
            if (rest.size() < end_line.size() && end_line.starts_with(rest))
                break; // the end, perhaps: wait for more
            ++pos;     // a stuffed dot
            at_line_start_ = false;
            continue;
        }
        const std::size_t eol = rest.find("\r\n");
        if (eol != std::string_view::npos) {
            keep(rest.substr(0, eol + 2));
            pos += eol + 2;
            at_line_start_ = true;
            continue;
        }
        // A line not yet whole: keep what is here, except a CR that may begin its CRLF.
        const std::size_t whole = rest.ends_with('\r') ? rest.size() - 1 : rest.size();
        if (whole == 0)
            break;
        keep(rest.substr(0, whole));
        pos += whole;
        at_line_start_ = false;
    }
    buffer.erase(0, pos);
    return done;
}

} // namespace ferry::connectors::email
