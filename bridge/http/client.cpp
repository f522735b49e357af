#include "bridge/http/client.hpp"

#include "bridge/http/address_guard.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <curl/curl.h>
#include <map>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace ferry::http {

namespace asio = boost::asio;

std::optional<std::string_view> ClientResponse::header(std::string_view lowercase_name) const {
    for (const auto& [name, value] : headers)
        if (name == lowercase_name)
            return value;
    return std::nullopt;
}

namespace {

/// curl_global_init is not thread-safe and must run once; a function-local static does that.
void ensure_curl_initialised() {
    static const bool initialised = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("libcurl could not be initialised");
        return true;
    }();
    (void)initialised;
}

std::string trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return std::string(text);
}

} // namespace

/// One request in flight. The awaiting coroutine waits on `done`; finishing it cancels that wait.
struct Transfer {
    explicit Transfer(const asio::any_io_executor& executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    curl_slist* resolve = nullptr;
    ClientRequest request;
    ClientResponse response;
    asio::steady_timer done;
    bool finished = false;
    std::size_t max_response_size = 0;
    bool too_large = false;
    char error_buffer[CURL_ERROR_SIZE] = {};

    ~Transfer() {
        if (easy != nullptr)
            curl_easy_cleanup(easy);
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
    }
};

/// A socket curl asked us to watch. The descriptor never owns it: curl closes its sockets itself.
struct WatchedSocket {
    explicit WatchedSocket(const asio::any_io_executor& executor) : descriptor(executor) {}
    asio::posix::stream_descriptor descriptor;
    int wanted = 0; ///< CURL_POLL_IN / OUT / INOUT
    bool reading = false;
    bool writing = false;
    bool gone = false;
};

struct ClientState : std::enable_shared_from_this<ClientState> {
    ClientState(asio::any_io_executor ex, ClientOptions opts)
        : executor(std::move(ex)), options(std::move(opts)), timer(executor), resolver(executor) {}

    asio::any_io_executor executor;
    ClientOptions options;
    CURLM* multi = nullptr;
    asio::steady_timer timer;
    bool timer_armed = false;
    bool immediate_pending = false;
    asio::ip::tcp::resolver resolver;
    std::map<curl_socket_t, std::shared_ptr<WatchedSocket>> sockets;
    std::map<CURL*, std::shared_ptr<Transfer>> transfers;
    bool closing = false;

    void start(const std::shared_ptr<Transfer>& transfer);
    void action(curl_socket_t socket, int events);
    void finish_completed();
    static void complete(Transfer& transfer);
    /// Keeps a finished transfer's easy handle for the next request (curl's advice: reuse handles).
    void recycle(Transfer& transfer);
    /// A reset easy handle from the pool, or a new one.
    CURL* easy_handle();
    std::vector<CURL*> idle_handles;
    void abandon(Transfer& transfer);
    void watch(curl_socket_t socket, const std::shared_ptr<WatchedSocket>& watched);
    void forget(curl_socket_t socket);

    static int on_socket(CURL*, curl_socket_t socket, int what, void* user, void*);
    static int on_timer(CURLM*, long timeout_ms, void* user);
    static int on_close_socket(void* user, curl_socket_t socket);
    static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user);
    static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user);
};

int ClientState::on_socket(CURL*, curl_socket_t socket, int what, void* user, void*) {
    auto* self = static_cast<ClientState*>(user);
    if (what == CURL_POLL_REMOVE) {
        self->forget(socket);
        return 0;
    }
    auto& watched = self->sockets[socket];
    if (!watched) {
        watched = std::make_shared<WatchedSocket>(self->executor);
        boost::system::error_code ec;
        watched->descriptor.assign(socket, ec);
        if (ec) {
            self->sockets.erase(socket);
            return -1;
        }
    }
    watched->wanted = what;
    self->watch(socket, watched);
    return 0;
}

int ClientState::on_timer(CURLM*, long timeout_ms, void* user) {
    auto* self = static_cast<ClientState*>(user);
    // Calling curl_multi_socket_action(CURL_SOCKET_TIMEOUT) early is harmless (curl then asks again), so a
    // timer is only moved when curl wants it sooner: re-arming the timerfd on every call cost 14% of the CPU
    // of a webhook flood. -1 ("no timeout") leaves an armed timer to fire spuriously.
    if (timeout_ms < 0)
        return 0;
    if (timeout_ms == 0) {
        // Never call back into libcurl from inside its callback: even "now" goes through the loop.
        if (!self->immediate_pending) {
            self->immediate_pending = true;
            asio::post(self->executor, [weak = self->weak_from_this()] {
                if (const auto state = weak.lock()) {
                    state->immediate_pending = false;
                    state->action(CURL_SOCKET_TIMEOUT, 0);
                }
            });
        }
        return 0;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (self->timer_armed && self->timer.expiry() <= deadline)
        return 0;
    self->timer_armed = true;
    self->timer.expires_at(deadline);
    self->timer.async_wait([weak = self->weak_from_this()](const boost::system::error_code& ec) {
        const auto state = weak.lock();
        if (ec || !state)
            return; // moved to an earlier deadline (a newer wait is armed), or shut down
        state->timer_armed = false;
        state->action(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
}

int ClientState::on_close_socket(void* user, curl_socket_t socket) {
    static_cast<ClientState*>(user)->forget(socket);
    return ::close(socket);
}

std::size_t ClientState::on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    if (transfer->response.body.size() + bytes > transfer->max_response_size) {
        transfer->too_large = true;
        return 0; // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    transfer->response.body.append(data, bytes);
    return bytes;
}

std::size_t ClientState::on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        transfer->response.headers.clear(); // a new response (after 100 Continue, say) starts over
        return size * count;
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::ranges::transform(name, name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        transfer->response.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
    }
    return size * count;
}

void ClientState::watch(curl_socket_t socket, const std::shared_ptr<WatchedSocket>& watched) {
    // One wait per direction curl asked for; each tells curl and waits again while it still wants to know.
    const auto wait = [&](bool WatchedSocket::*pending, int poll, int select,
                          asio::posix::descriptor_base::wait_type type) {
        if ((watched->wanted & poll) == 0 || (*watched).*pending)
            return;
        (*watched).*pending = true;
        watched->descriptor.async_wait(type, [weak = weak_from_this(), watched, socket, pending,
                                              select](const boost::system::error_code& ec) {
            (*watched).*pending = false;
            const auto state = weak.lock();
            if (ec || watched->gone || !state)
                return;
            state->action(socket, select);
            if (!watched->gone)
                state->watch(socket, watched);
        });
    };
    wait(&WatchedSocket::reading, CURL_POLL_IN, CURL_CSELECT_IN, asio::posix::descriptor_base::wait_read);
    wait(&WatchedSocket::writing, CURL_POLL_OUT, CURL_CSELECT_OUT, asio::posix::descriptor_base::wait_write);
}

void ClientState::forget(curl_socket_t socket) {
    const auto found = sockets.find(socket);
    if (found == sockets.end())
        return;
    found->second->gone = true;
    // release() takes the descriptor out of the reactor and cancels its waits without closing it.
    (void)found->second->descriptor.release();
    sockets.erase(found);
}

void ClientState::action(curl_socket_t socket, int events) {
    int running = 0;
    curl_multi_socket_action(multi, socket, events, &running);
    finish_completed();
}

void ClientState::finish_completed() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL* easy = message->easy_handle;
        const CURLcode code = message->data.result;
        const auto found = transfers.find(easy);
        if (found == transfers.end())
            continue;
        const std::shared_ptr<Transfer> transfer = std::move(found->second);
        transfers.erase(found);
        curl_multi_remove_handle(multi, easy);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        recycle(*transfer);
        if (code == CURLE_OK) {
            transfer->response.status = static_cast<int>(status);
        } else if (transfer->too_large && status > 0) {
            // The service answered; only its body was too long to keep. A 2xx still counts as done: retrying
            // would send the message again.
            transfer->response.status = static_cast<int>(status);
            transfer->response.body.clear();
            transfer->response.error =
                "the answer is larger than " + std::to_string(transfer->max_response_size) + " bytes";
        } else {
            transfer->response.status = 0;
            transfer->response.headers.clear();
            transfer->response.body.clear();
            if (transfer->too_large)
                transfer->response.error =
                    "the answer is larger than " + std::to_string(transfer->max_response_size) + " bytes";
            else if (transfer->error_buffer[0] != '\0')
                transfer->response.error = transfer->error_buffer;
            else
                transfer->response.error = curl_easy_strerror(code);
        }
        complete(*transfer);
    }
}

void ClientState::recycle(Transfer& transfer) {
    constexpr std::size_t max_idle_handles = 64;
    if (transfer.easy == nullptr || idle_handles.size() >= max_idle_handles)
        return;
    curl_easy_reset(transfer.easy);
    idle_handles.push_back(transfer.easy);
    transfer.easy = nullptr;
}

CURL* ClientState::easy_handle() {
    if (idle_handles.empty())
        return curl_easy_init();
    CURL* easy = idle_handles.back();
    idle_handles.pop_back();
    return easy;
}

void ClientState::complete(Transfer& transfer) {
    transfer.finished = true;
    transfer.done.cancel();
}

void ClientState::abandon(Transfer& transfer) {
    const auto found = transfers.find(transfer.easy);
    if (found == transfers.end() || found->second.get() != &transfer)
        return;
    transfers.erase(found);
    if (multi != nullptr)
        curl_multi_remove_handle(multi, transfer.easy);
}

void ClientState::start(const std::shared_ptr<Transfer>& transfer) {
    const CURLMcode added =
        multi == nullptr ? CURLM_BAD_HANDLE : curl_multi_add_handle(multi, transfer->easy);
    if (added != CURLM_OK) {
        transfer->response.error = std::string("cannot start the request: ") + curl_multi_strerror(added);
        complete(*transfer);
        return;
    }
    transfers.emplace(transfer->easy, transfer);
}

namespace {

/// The host, port and whether it is an address literal, from an http(s) URL; an error text otherwise.
struct Target {
    std::string host; ///< without brackets
    std::string port;
    bool literal = false;
    std::string error;
};

Target parse_target(const std::string& url) {
    Target target;
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        target.error = "not an absolute URL";
        return target;
    }
    const std::string scheme(parsed->scheme());
    if (scheme != "http" && scheme != "https") {
        target.error = "only http and https URLs are allowed, not " + scheme;
        return target;
    }
    switch (parsed->host_type()) {
    case boost::urls::host_type::ipv4:
        target.host = parsed->host_ipv4_address().to_string();
        target.literal = true;
        break;
    case boost::urls::host_type::ipv6:
        target.host = parsed->host_ipv6_address().to_string();
        target.literal = true;
        break;
    case boost::urls::host_type::name:
        target.host = parsed->host_name();
        break;
    default:
        target.error = "the URL has no usable host";
        return target;
    }
    if (target.host.empty()) {
        target.error = "the URL has no host";
        return target;
    }
    target.port = parsed->has_port() ? std::string(parsed->port()) : (scheme == "https" ? "443" : "80");
    return target;
}

CURL* make_easy(Transfer& transfer, ClientState& state) {
    const ClientOptions& options = state.options;
    CURL* easy = state.easy_handle();
    if (easy == nullptr)
        throw std::bad_alloc();
    const ClientRequest& request = transfer.request;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<std::int64_t>(request.timeout.count(), 10000)));
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &ClientState::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &ClientState::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    if (request.method == "GET") {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        if (request.method != "POST")
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    // "Expect: 100-continue" costs a round trip per request with a body; chat APIs never need it.
    transfer.headers = curl_slist_append(transfer.headers, "Expect:");
    for (const auto& [name, value] : request.headers)
        transfer.headers = curl_slist_append(transfer.headers, (name + ": " += value).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
    return easy;
}

} // namespace

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : state_(std::make_shared<ClientState>(std::move(executor), std::move(options))) {
    ensure_curl_initialised();
    state_->multi = curl_multi_init();
    if (state_->multi == nullptr)
        throw std::runtime_error("libcurl: cannot create a multi handle");
    CURLM* multi = state_->multi;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &ClientState::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, state_.get());
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &ClientState::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, state_.get());
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(state_->options.max_connections_per_host));
}

// Only a failed allocation could throw here, and then terminating is right.
Client::~Client() { // NOLINT(bugprone-exception-escape)
    ClientState& state = *state_;
    state.closing = true;
    state.resolver.cancel();
    for (auto& [easy, transfer] : state.transfers) {
        curl_multi_remove_handle(state.multi, easy);
        transfer->response = ClientResponse{};
        transfer->response.error = "the HTTP client was shut down";
    }
    for (auto& [easy, transfer] : state.transfers)
        ClientState::complete(*transfer);
    state.transfers.clear();
    // Cleaning up the multi handle closes the cached connections through on_close_socket.
    curl_multi_cleanup(state.multi);
    state.multi = nullptr;
    for (CURL* easy : state.idle_handles)
        curl_easy_cleanup(easy);
    state.idle_handles.clear();
    for (auto& [socket, watched] : state.sockets) {
        watched->gone = true;
        (void)watched->descriptor.release();
    }
    state.sockets.clear();
    state.timer.cancel();
}

std::size_t Client::active() const {
    return state_->transfers.size();
}

asio::awaitable<ClientResponse> Client::perform(ClientRequest request) {
    // The state outlives a Client destroyed while this coroutine waits: never reach it through `this`.
    const std::shared_ptr<ClientState> state = state_;
    const Target target = parse_target(request.url);
    if (!target.error.empty()) {
        ClientResponse refused;
        refused.refused = true;
        refused.error = target.error + ": " + request.url;
        co_return refused;
    }
    auto transfer = std::make_shared<Transfer>(state->executor);
    transfer->max_response_size = state->options.max_response_size;
    if (!request.allow_private) {
        std::string pinned;
        if (target.literal) {
            pinned = target.host;
        } else {
            auto [ec, results] = co_await state->resolver.async_resolve(target.host, target.port,
                                                                        asio::as_tuple(asio::use_awaitable));
            if (ec) {
                ClientResponse failed;
                failed.error = "cannot resolve " + target.host + ": " + ec.message();
                co_return failed;
            }
            std::string_view refusal;
            for (const auto& entry : results) {
                const auto address = entry.endpoint().address();
                refusal = non_public_reason(address);
                if (refusal.empty()) {
                    pinned = address.to_string();
                    break;
                }
            }
            if (pinned.empty()) {
                ClientResponse refused;
                refused.refused = true;
                refused.error = target.host + " resolves to " + std::string(refusal) +
                                ", which this connector may not reach (set allow_private to permit it)";
                co_return refused;
            }
        }
        boost::system::error_code parse_error;
        const auto address = asio::ip::make_address(pinned, parse_error);
        if (const std::string_view refusal = parse_error ? "an unusable address" : non_public_reason(address);
            !refusal.empty()) {
            ClientResponse refused;
            refused.refused = true;
            refused.error = target.host + " is " + std::string(refusal) +
                            ", which this connector may not reach (set allow_private to permit it)";
            co_return refused;
        }
        if (!target.literal) {
            const std::string entry =
                target.host + ":" + target.port + ":" + (address.is_v6() ? "[" + pinned + "]" : pinned);
            transfer->resolve = curl_slist_append(nullptr, entry.c_str());
        }
    }
    transfer->request = std::move(request);
    try {
        transfer->easy = make_easy(*transfer, *state);
    } catch (const std::exception& e) {
        ClientResponse failed;
        failed.error = std::string("cannot prepare the request: ") + e.what();
        co_return failed;
    }
    if (transfer->resolve != nullptr)
        curl_easy_setopt(transfer->easy, CURLOPT_RESOLVE, transfer->resolve);
    curl_easy_setopt(transfer->easy, CURLOPT_CLOSESOCKETFUNCTION, &ClientState::on_close_socket);
    curl_easy_setopt(transfer->easy, CURLOPT_CLOSESOCKETDATA, state.get());
    state->start(transfer);
    if (!transfer->finished)
        co_await transfer->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!transfer->finished) {
        // Our own wait was cancelled: the caller gave up on this request.
        state->abandon(*transfer);
        ClientResponse cancelled;
        cancelled.error = "the request was cancelled";
        co_return cancelled;
    }
    co_return std::move(transfer->response);
}

} // namespace ferry::http
