#include "bridge/http/server.hpp"

#include "bridge/core/logger.hpp"

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
    tcp::acceptor acceptor;
    std::set<beast::tcp_stream*> open;
    std::size_t sessions = 0;
    bool stopping = false;
    asio::steady_timer drained;
    std::optional<asio::ssl::context> tls; ///< set when the listener speaks HTTPS

    ServerState(asio::any_io_executor executor, ServerSettings s, Server::Handler h, core::Logger& l)
        : settings(std::move(s)), handler(std::move(h)), logger(l), acceptor(executor),
          drained(executor, asio::steady_timer::time_point::max()) {}
};

namespace {

/// A path as it may be logged: its first two segments (`/hooks/alerts/…`); what follows may be a secret
/// (a webhook token given in the URL).
std::string loggable_path(std::string_view path) {
    std::size_t cut = path.find('/', 1);
    if (cut != std::string_view::npos)
        cut = path.find('/', cut + 1);
    return cut == std::string_view::npos ? std::string(path) : std::string(path.substr(0, cut)) + "/…";
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bhttp::response<bhttp::string_body> to_beast(const Response& response, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> out(static_cast<bhttp::status>(response.status), version);
    out.set(bhttp::field::server, "ferry");
    out.set(bhttp::field::content_type, response.content_type);
    out.set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers)
        out.set(name, value);
    out.body() = response.body;
    out.keep_alive(keep_alive);
    out.prepare_payload();
    return out;
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

template <typename Stream>
asio::awaitable<void> write(Stream& stream, const Response& response, unsigned version, bool keep_alive) {
    auto message = to_beast(response, version, keep_alive);
    co_await bhttp::async_write(stream, message, asio::as_tuple(asio::use_awaitable));
}

/// Serves requests on one connection until it ends. `Stream` is a beast::tcp_stream, or an ssl_stream over
/// one whose handshake is done.
template <typename Stream>
asio::awaitable<void> serve(std::shared_ptr<ServerState> state, Stream& stream, const std::string& remote) {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(state->settings.max_body_size);
        parser.header_limit(16 * 1024);
        lowest.expires_after(state->settings.request_timeout);
        const auto [error, bytes] =
            co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        (void)bytes;
        if (error) {
            if (const auto answer = read_failure(error, state->settings.max_body_size);
                answer && !state->stopping) {
                state->logger.info("http: " + remote + ": " + std::to_string(answer->status) + " " +
                                   error.message());
                lowest.expires_after(std::chrono::seconds(5));
                co_await write(stream, *answer, 11, false);
            }
            break;
        }
        const auto& message = parser.get();
        Request request;
        request.method = std::string(message.method_string());
        request.target = std::string(message.target());
        for (const auto& field : message)
            request.headers[lowercase(field.name_string())] = std::string(field.value());
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
        lowest.expires_after(state->settings.request_timeout);
        co_await write(stream, response, version, keep_alive);
        if (!keep_alive || state->stopping || !lowest.socket().is_open())
            break;
    }
}

asio::awaitable<void> session(std::shared_ptr<ServerState> state, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    state->open.insert(&stream);
    boost::system::error_code ignored;
    const std::string remote = stream.socket().remote_endpoint(ignored).address().to_string();
    if (state->tls) {
        beast::ssl_stream<beast::tcp_stream&> secured(stream, *state->tls);
        stream.expires_after(state->settings.request_timeout);
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

} // namespace

Server::Server(asio::any_io_executor executor, ServerSettings settings, Handler handler, core::Logger& logger)
    : state_(std::make_shared<ServerState>(executor, std::move(settings), std::move(handler), logger)) {
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
        if (state->sessions >= state->settings.max_connections) {
            if (state->tls)
                continue; // no plain-text 503 on an HTTPS port: closing is the answer
            beast::tcp_stream stream(std::move(socket));
            stream.expires_after(std::chrono::seconds(2));
            Response busy = json_error(503, "too many connections; try again shortly");
            busy.headers.emplace_back("Retry-After", "1");
            co_await write(stream, busy, 11, false);
            continue;
        }
        ++state->sessions;
        asio::co_spawn(state->acceptor.get_executor(), session(state, std::move(socket)),
                       [state](const std::exception_ptr&) {
                           if (--state->sessions == 0)
                               state->drained.cancel();
                       });
    }
    while (state->sessions > 0)
        co_await state->drained.async_wait(asio::as_tuple(asio::use_awaitable));
}

} // namespace ferry::http
