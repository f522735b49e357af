#include "bridge/http/server.hpp"

#include "bridge/base/logger.hpp"
#include "bridge/text/log_text.hpp"
#include "bridge/text/utf8.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <system_error>

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct ServerState {
    ServerSettings settings;
    Server::Handler handler;
    core::Logger& logger;
    Server::ResponseObserver observer;
    tcp::acceptor acceptor;
    std::set<beast::tcp_stream*> open;
    std::map<std::string, std::size_t> per_address; ///< connections being served, by client address
    std::size_t sessions = 0;
    std::size_t refusals = 0; ///< over-limit connections being answered 503
    bool stopping = false;
    asio::steady_timer drained;
    std::optional<asio::ssl::context> tls; ///< set when the listener speaks HTTPS

    ServerState(asio::any_io_executor executor, ServerSettings s, Server::Handler h, core::Logger& l,
                Server::ResponseObserver o)
        : settings(std::move(s)), handler(std::move(h)), logger(l), observer(std::move(o)),
          acceptor(executor), drained(executor, asio::steady_timer::time_point::max()) {}

    void observe(std::string_view path, int status) const {
        if (observer)
            observer(path, status);
    }
};

namespace {

/// Over-limit connections answered at once; beyond this many, a new one is closed without an answer.
constexpr std::size_t max_refusals = 64;

/// A path as it may be logged: its first two segments (`/hooks/alerts/…`); what follows may be a secret
/// (a webhook token given in the URL).
std::string loggable_path(std::string_view path) {
    std::size_t cut = path.find('/', 1);
    if (cut != std::string_view::npos)
        cut = path.find('/', cut + 1);
    return text::shortened(cut == std::string_view::npos ? path : path.substr(0, cut), 200) +
           (cut == std::string_view::npos ? "" : "/…");
}

template <typename Body>
void set_fields(bhttp::response<Body>& out, const Response& response, bool keep_alive) {
    out.set(bhttp::field::server, "ferry");
    out.set(bhttp::field::content_type, response.content_type);
    out.set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers)
        out.set(name, value);
    out.keep_alive(keep_alive);
}

/// What a request that could not be read gets, or nullopt when the connection just ends.
std::optional<Response> read_failure(const boost::system::error_code& error, std::size_t limit) {
    if (error == bhttp::error::body_limit)
        return json_error(413, "the request body is larger than " + std::to_string(limit) + " bytes");
    if (error == bhttp::error::header_limit)
        return json_error(431, "the request headers are too large");
    const boost::system::error_code end = bhttp::error::end_of_stream;
    if (error.category() == end.category() && error != end && error != bhttp::error::partial_message)
        return json_error(400, std::string("malformed HTTP request: ") + error.message());
    return std::nullopt; // closed, reset or timed out: nobody to answer
}

/// Writes `response`; to a HEAD request only its headers, with the length its body would have (RFC 9110
/// section 9.3.2).
template <typename Stream>
asio::awaitable<void> write(Stream& stream, const Response& response, unsigned version, bool keep_alive,
                            bool head = false) {
    if (head) {
        bhttp::response<bhttp::empty_body> out(static_cast<bhttp::status>(response.status), version);
        set_fields(out, response, keep_alive);
        out.content_length(response.body.size());
        bhttp::response_serializer<bhttp::empty_body> serializer(out);
        co_await bhttp::async_write_header(stream, serializer, asio::as_tuple(asio::use_awaitable));
        co_return;
    }
    bhttp::response<bhttp::string_body> out(static_cast<bhttp::status>(response.status), version);
    set_fields(out, response, keep_alive);
    out.body() = response.body;
    out.prepare_payload();
    co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
}

/// A codings header's value other than what Ferry reads (`chunked` for Transfer-Encoding, `identity` or none
/// for Content-Encoding), or empty.
std::string unsupported_coding(std::string_view value, std::string_view understood) {
    std::string codings = text::ascii_lowercase(value);
    std::erase_if(codings, [](char c) { return c == ' ' || c == '\t'; });
    return codings.empty() || codings == understood ? std::string() : codings;
}

/// 501 or 415 for a body Ferry would otherwise take as it is while it is compressed (RFC 9112 section 6.1,
/// RFC 9110 section 15.5.16).
template <typename Parser> std::optional<Response> unsupported_body(const Parser& parser) {
    const auto& header = parser.get();
    if (const std::string te = unsupported_coding(header[bhttp::field::transfer_encoding], "chunked");
        !te.empty())
        return json_error(501, "Transfer-Encoding " + text::quoted(te, 40) +
                                   " is not supported; send the body as it is or chunked");
    if (const std::string ce = unsupported_coding(header[bhttp::field::content_encoding], "identity");
        !ce.empty()) {
        Response refused = json_error(415, "Content-Encoding " + text::quoted(ce, 40) +
                                               " is not supported; send the body uncompressed");
        refused.headers.emplace_back("Accept-Encoding", "identity");
        return refused;
    }
    return std::nullopt;
}

/// Serves requests on one connection until it ends. `Stream` is a beast::tcp_stream, or an ssl_stream over
/// one whose handshake is done.
template <typename Stream>
asio::awaitable<void> serve(std::shared_ptr<ServerState> state, Stream& stream, const std::string& remote) {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    const auto answer_and_close = [&](const Response& answer,
                                      std::string_view path) -> asio::awaitable<void> {
        state->logger.info("http: " + remote + ": " + std::to_string(answer.status) + " " + answer.body);
        state->observe(path, answer.status);
        lowest.expires_after(std::chrono::seconds(5));
        co_await write(stream, answer, 11, false);
    };
    for (;;) {
        // An idle keep-alive connection may wait for its next request; once a request has begun, its line and
        // headers must arrive within the short header timeout.
        if (buffer.size() == 0) {
            lowest.expires_after(state->settings.request_timeout);
            const auto [idle_error, got] =
                co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
            if (idle_error)
                break;
            buffer.commit(got);
        }
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(state->settings.max_body_size);
        parser.header_limit(16 * 1024);
        lowest.expires_after(state->settings.header_timeout);
        const auto [header_error, header_bytes] =
            co_await bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        (void)header_bytes;
        if (header_error) {
            if (header_error == beast::error::timeout)
                state->logger.info("http: " + remote + ": request headers not complete within " +
                                   std::to_string(state->settings.header_timeout.count()) + " ms; closed");
            else if (const auto answer = read_failure(header_error, state->settings.max_body_size);
                     answer && !state->stopping)
                co_await answer_and_close(*answer, {});
            break;
        }
        const std::string target(parser.get().target());
        const std::string_view path = std::string_view(target).substr(0, target.find('?'));
        if (const auto refused = unsupported_body(parser)) {
            co_await answer_and_close(*refused, path);
            break;
        }
        lowest.expires_after(state->settings.request_timeout);
        const auto [error, bytes] =
            co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        (void)bytes;
        if (error) {
            if (const auto answer = read_failure(error, state->settings.max_body_size);
                answer && !state->stopping)
                co_await answer_and_close(*answer, path);
            break;
        }
        const auto& message = parser.get();
        Request request;
        request.method = std::string(message.method_string());
        request.target = target;
        for (const auto& field : message)
            request.headers[text::ascii_lowercase(field.name_string())] = std::string(field.value());
        request.body = message.body();
        request.remote = remote;
        const bool keep_alive = message.keep_alive() && !state->stopping;
        const unsigned version = message.version();
        lowest.expires_never(); // the handler may wait for a commit; it bounds its own time
        Response response;
        try {
            response = co_await state->handler(request);
        } catch (const std::exception& e) {
            state->logger.error("http: " + request.method + " " + loggable_path(request.path()) +
                                " failed: " + e.what());
            response = json_error(500, "internal error; see Ferry's log");
        }
        state->observe(path, response.status);
        lowest.expires_after(state->settings.request_timeout);
        co_await write(stream, response, version, keep_alive, request.method == "HEAD");
        if (!keep_alive || state->stopping || !lowest.socket().is_open())
            break;
    }
}

asio::awaitable<void> session(std::shared_ptr<ServerState> state, tcp::socket socket, std::string remote) {
    beast::tcp_stream stream(std::move(socket));
    state->open.insert(&stream);
    boost::system::error_code ignored;
    if (state->tls) {
        beast::ssl_stream<beast::tcp_stream&> secured(stream, *state->tls);
        stream.expires_after(state->settings.header_timeout);
        const auto [error] = co_await secured.async_handshake(asio::ssl::stream_base::server,
                                                              asio::as_tuple(asio::use_awaitable));
        if (error)
            state->logger.info("http: " + remote + ": TLS handshake failed: " + error.message());
        else
            co_await serve(state, secured, remote);
    } else {
        co_await serve(state, stream, remote);
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    state->open.erase(&stream);
}

/// A connection over a limit: 503 and Retry-After, then a clean close. Its request is read and dropped for up
/// to a second after the answer, since closing a socket with unread data resets the connection, and the
/// client might never see the answer.
asio::awaitable<void> refuse(std::shared_ptr<ServerState> state, tcp::socket socket, std::string why) {
    beast::tcp_stream stream(std::move(socket));
    Response busy = json_error(503, why + "; try again shortly");
    busy.headers.emplace_back("Retry-After", "1");
    state->observe({}, 503);
    stream.expires_after(std::chrono::seconds(2));
    co_await write(stream, busy, 11, false);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> drain{};
    for (;;) {
        const auto [error, n] =
            co_await stream.async_read_some(asio::buffer(drain), asio::as_tuple(asio::use_awaitable));
        (void)n;
        if (error)
            break;
    }
    stream.socket().close(ignored);
}

} // namespace

Server::Server(asio::any_io_executor executor, ServerSettings settings, Handler handler, core::Logger& logger,
               ResponseObserver observer)
    : state_(std::make_shared<ServerState>(executor, std::move(settings), std::move(handler), logger,
                                           std::move(observer))) {
    if (!state_->settings.tls_certificate.empty() || !state_->settings.tls_key.empty()) {
        if (state_->settings.tls_certificate.empty() || state_->settings.tls_key.empty())
            throw std::runtime_error("HTTPS needs both http.tls_certificate and http.tls_key");
        auto& tls = state_->tls.emplace(asio::ssl::context::tls_server);
        tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
        try {
            tls.use_certificate_chain_file(state_->settings.tls_certificate);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("cannot load the HTTPS certificate " + state_->settings.tls_certificate +
                                     ": " + e.code().message());
        }
        try {
            tls.use_private_key_file(state_->settings.tls_key, asio::ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("cannot load the HTTPS key " + state_->settings.tls_key + ": " +
                                     e.code().message());
        }
    }
    const tcp::endpoint endpoint(asio::ip::make_address(state_->settings.address), state_->settings.port);
    try {
        state_->acceptor.open(endpoint.protocol());
        state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
        state_->acceptor.bind(endpoint);
        state_->acceptor.listen(asio::socket_base::max_listen_connections);
    } catch (const boost::system::system_error& e) {
        throw std::system_error(e.code(), "cannot listen for HTTP on " + state_->settings.address + ":" +
                                              std::to_string(state_->settings.port));
    }
}

Server::~Server() = default;

std::uint16_t Server::port() const {
    boost::system::error_code ignored;
    return state_->acceptor.local_endpoint(ignored).port();
}

void Server::stop() {
    state_->stopping = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (beast::tcp_stream* stream : state_->open)
        stream->socket().close(ignored);
}

asio::awaitable<void> Server::run() {
    const std::shared_ptr<ServerState> state = state_;
    state->logger.info(std::string("http: listening on ") + (state->tls ? "https://" : "") +
                       state->settings.address + ":" + std::to_string(port()));
    while (!state->stopping) {
        auto [error, socket] = co_await state->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (error) {
            if (state->stopping || error == asio::error::operation_aborted)
                break;
            state->logger.warning("http: accept failed: " + error.message());
            continue; // e.g. out of descriptors for a moment
        }
        socket.set_option(tcp::no_delay(true), error);
        boost::system::error_code no_peer;
        std::string remote = socket.remote_endpoint(no_peer).address().to_string();
        std::string over;
        if (state->sessions >= state->settings.max_connections)
            over = "too many connections";
        else if (state->per_address[remote] >= state->settings.max_connections_per_address)
            over = "too many connections from " + remote;
        if (!over.empty()) {
            if (state->per_address[remote] == 0)
                state->per_address.erase(remote);
            // No plain-text 503 on an HTTPS port, and no answer at all to a flood of them: closing is the
            // answer.
            if (state->tls || state->refusals >= max_refusals) {
                socket.close(no_peer);
                continue;
            }
            ++state->refusals;
            asio::co_spawn(state->acceptor.get_executor(), refuse(state, std::move(socket), std::move(over)),
                           [state](const std::exception_ptr&) { --state->refusals; });
            continue;
        }
        ++state->sessions;
        ++state->per_address[remote];
        asio::co_spawn(state->acceptor.get_executor(), session(state, std::move(socket), remote),
                       [state, remote](const std::exception_ptr&) {
                           if (--state->per_address[remote] == 0)
                               state->per_address.erase(remote);
                           if (--state->sessions == 0)
                               state->drained.cancel();
                       });
    }
    while (state->sessions > 0)
        co_await state->drained.async_wait(asio::as_tuple(asio::use_awaitable));
}

} // namespace ferry::http
