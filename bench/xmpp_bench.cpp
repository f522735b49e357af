// Micro-benchmarks of the component's stanza path: XmlStreamParser -> StanzaDispatcher -> XmlNode::to_string.
// Input is fed in 4 KiB chunks into one long-lived stream, as the read loop does with what the server sends.
// Run: build-bench/ferry_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=5]
// Figures and how to read them: docs/performance.md.

#include "bridge/base/logger.hpp"
#include "bridge/xmpp/entity_services.hpp"
#include "bridge/xmpp/jid.hpp"
#include "bridge/xmpp/namespaces.hpp"
#include "bridge/xmpp/stanza_dispatcher.hpp"
#include "bridge/xmpp/xml_node.hpp"
#include "bridge/xmpp/xml_stream_parser.hpp"

#include <benchmark/benchmark.h>
#include <cstdio>
#include <expat.h>
#include <functional>
#include <string>
#include <string_view>

namespace {

using ferry::core::Logger;
using ferry::core::LogLevel;
using ferry::xmpp::InboundStanza;
using ferry::xmpp::Jid;
using ferry::xmpp::StanzaDispatcher;
using ferry::xmpp::XmlNode;
using ferry::xmpp::XmlStreamParser;
namespace ns = ferry::xmpp::ns;

constexpr std::size_t chunk_size = 4096;
constexpr std::string_view domain = "ferry.localhost";
constexpr std::string_view stream_header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='ferry.localhost' id='bench-stream-1'>";

/// A typical one-to-one chat message as the server routes it to the component (~300 bytes).
std::string typical_message(int n) {
    char id[32];
    std::snprintf(id, sizeof id, "a8f3c1d2-5b6e-%06d", n);
    return std::string(
               "<message from='alice@localhost/laptop-7c2e' to='bob@ferry.localhost' type='chat' id='") +
           id +
           "'><body>Hi Bob, the build on the staging branch is green again; could you deploy it after "
           "lunch and ping me once the smoke tests pass? The release notes are in the shared folder, "
           "and tell me if anything looks odd.</body></message>";
}

/// A message whose body is `body_bytes` of text in 80-column lines, with a few characters to escape.
std::string large_message(std::size_t body_bytes) {
    std::string body;
    const std::string_view line =
        "Log excerpt: value &lt; limit &amp;&amp; retry &gt; 3 -- nothing to worry about.\n";
    while (body.size() + line.size() <= body_bytes)
        body += line;
    body.append(body_bytes - body.size(), 'x');
    return "<message from='alice@localhost/laptop-7c2e' to='bob@ferry.localhost' type='chat' "
           "id='big-1'><body>" +
           body + "</body></message>";
}

std::string ping_iq(int n) {
    char id[32];
    std::snprintf(id, sizeof id, "ping-%06d", n);
    return std::string("<iq type='get' id='") + id +
           "' from='alice@localhost/bench' to='ferry.localhost'><ping xmlns='urn:xmpp:ping'/></iq>";
}

std::string disco_info_iq(int n) {
    char id[32];
    std::snprintf(id, sizeof id, "disco-%06d", n);
    return std::string("<iq type='get' id='") + id +
           "' from='alice@localhost/bench' to='ferry.localhost'>"
           "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
}

/// Initial presence broadcast to a contact at the component that no bridge serves (ignored per RFC 6121).
std::string presence_to_unknown(int n) {
    char id[32];
    std::snprintf(id, sizeof id, "pres-%06d", n);
    return std::string("<presence from='alice@localhost/laptop-7c2e' to='nobody@ferry.localhost' id='") + id +
           "'><show>away</show><status>In a meeting</status><priority>5</priority></presence>";
}

/// A bounce: the server returns one of our messages as an error (the path logs it at debug level).
std::string error_message(int n) {
    char id[32];
    std::snprintf(id, sizeof id, "a8f3c1d2-5b6e-%06d", n);
    return std::string(
               "<message from='alice@localhost/laptop-7c2e' to='bob@ferry.localhost' type='error' id='") +
           id +
           "'><body>Hi Alice, the build is green again.</body><error type='cancel'>"
           "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>";
}

/// `count` stanzas made by `make`, concatenated: one iteration's worth of stream.
std::string stream_body(const std::function<std::string(int)>& make, int count) {
    std::string body;
    for (int i = 0; i < count; ++i)
        body += make(i);
    return body;
}

bool feed_in_chunks(XmlStreamParser& parser, std::string_view bytes) {
    while (!bytes.empty()) {
        const std::size_t n = std::min(bytes.size(), chunk_size);
        if (!parser.feed(bytes.substr(0, n)))
            return false;
        bytes.remove_prefix(n);
    }
    return true;
}

/// Opens the stream once, then feeds `body` every iteration and reports stanzas/s and bytes/s.
/// `on_stanza` gets every stanza; it must count what it handled into `handled`.
void run_stream(benchmark::State& state, const std::string& body, int stanzas_per_body,
                const std::function<void(XmlNode)>& on_stanza, const std::int64_t& handled) {
    XmlStreamParser parser(
        {.max_stanza_size = 256 * 1024, .max_depth = 64},
        {.stream_opened = nullptr, .stanza = on_stanza, .stream_closed = nullptr, .stanza_refused = nullptr});
    if (!parser.feed(stream_header)) {
        state.SkipWithError("stream header rejected");
        return;
    }
    for (auto _ : state) {
        if (!feed_in_chunks(parser, body)) {
            state.SkipWithError(("parse error: " + parser.error_text()).c_str());
            return;
        }
    }
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    if (handled != iterations * stanzas_per_body) {
        state.SkipWithError("not every stanza was handled");
        return;
    }
    state.SetItemsProcessed(iterations * stanzas_per_body);
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(body.size()));
    state.counters["bytes_per_stanza"] = static_cast<double>(body.size()) / stanzas_per_body;
}

/// What ComponentStream::send does with each outgoing stanza: one serialised string per stanza.
struct StringSink {
    std::int64_t count = 0;
    std::int64_t bytes = 0;
    void operator()(const XmlNode& stanza) {
        std::string out = stanza.to_string(ns::component);
        benchmark::DoNotOptimize(out.data());
        bytes += static_cast<std::int64_t>(out.size());
        ++count;
    }
};

constexpr int messages_per_body = 1024; // ~300 KiB per iteration, so the partial last chunk does not matter

// --- typical messages ------------------------------------------------------------------------------------

void BM_Message_Parse(benchmark::State& state) {
    const std::string body = stream_body(typical_message, messages_per_body);
    std::int64_t handled = 0;
    run_stream(
        state, body, messages_per_body,
        [&](XmlNode stanza) {
            benchmark::DoNotOptimize(stanza.name().data());
            ++handled;
        },
        handled);
}
BENCHMARK(BM_Message_Parse);

void BM_Message_Serialise(benchmark::State& state) {
    XmlNode stanza("x");
    XmlStreamParser parser({}, {.stream_opened = nullptr,
                                .stanza = [&](XmlNode s) { stanza = std::move(s); },
                                .stream_closed = nullptr,
                                .stanza_refused = nullptr});
    parser.feed(stream_header);
    parser.feed(typical_message(1));
    StringSink sink;
    for (auto _ : state)
        sink(stanza);
    state.SetItemsProcessed(sink.count);
    state.SetBytesProcessed(sink.bytes);
}
BENCHMARK(BM_Message_Serialise);

/// The goal (>= 300,000/s on one core): parse, then serialise each stanza once.
void BM_Message_ParseSerialise(benchmark::State& state) {
    const std::string body = stream_body(typical_message, messages_per_body);
    StringSink sink;
    run_stream(
        state, body, messages_per_body, [&](XmlNode stanza) { sink(stanza); }, sink.count);
}
BENCHMARK(BM_Message_ParseSerialise);

/// The whole inbound path: parse, StanzaDispatcher (JID validation of from and to), an address handler that
/// forwards the stanza by serialising it.
void BM_Message_ParseDispatchSerialise(benchmark::State& state) {
    const std::string body = stream_body(typical_message, messages_per_body);
    Logger logger(LogLevel::warning);
    StringSink sink;
    StanzaDispatcher dispatcher(
        std::string(domain), [&](const XmlNode& s) { sink(s); }, logger);
    dispatcher.on_address([&](const InboundStanza& inbound) {
        sink(inbound.node);
        return true;
    });
    run_stream(
        state, body, messages_per_body, [&](XmlNode stanza) { dispatcher.dispatch(stanza); }, sink.count);
}
BENCHMARK(BM_Message_ParseDispatchSerialise);

/// Today's Ferry has no bridge mapped: every message gets a service-unavailable error reply.
void BM_Message_ParseDispatchErrorReply(benchmark::State& state) {
    const std::string body = stream_body(typical_message, messages_per_body);
    Logger logger(LogLevel::warning);
    StringSink sink;
    StanzaDispatcher dispatcher(
        std::string(domain), [&](const XmlNode& s) { sink(s); }, logger);
    run_stream(
        state, body, messages_per_body, [&](XmlNode stanza) { dispatcher.dispatch(stanza); }, sink.count);
}
BENCHMARK(BM_Message_ParseDispatchErrorReply);

// --- one 64 KiB stanza -----------------------------------------------------------------------------------

void BM_LargeMessage64KiB_ParseSerialise(benchmark::State& state) {
    const std::string body = large_message(64 * 1024);
    StringSink sink;
    run_stream(
        state, body, 1, [&](XmlNode stanza) { sink(stanza); }, sink.count);
}
BENCHMARK(BM_LargeMessage64KiB_ParseSerialise);

// --- IQs answered by the entity services -----------------------------------------------------------------

void run_entity_service(benchmark::State& state, std::string (*make)(int)) {
    constexpr int per_body = 2048;
    const std::string body = stream_body(make, per_body);
    Logger logger(LogLevel::warning);
    StringSink sink;
    StanzaDispatcher dispatcher(
        std::string(domain), [&](const XmlNode& s) { sink(s); }, logger);
    ferry::xmpp::register_entity_services(dispatcher, {.software_version = "bench"});
    run_stream(
        state, body, per_body, [&](XmlNode stanza) { dispatcher.dispatch(stanza); }, sink.count);
}

void BM_PingIq_ParseDispatchReply(benchmark::State& state) {
    run_entity_service(state, ping_iq);
}
BENCHMARK(BM_PingIq_ParseDispatchReply);

void BM_DiscoInfoIq_ParseDispatchReply(benchmark::State& state) {
    run_entity_service(state, disco_info_iq);
}
BENCHMARK(BM_DiscoInfoIq_ParseDispatchReply);

// --- pieces, to attribute the cost -----------------------------------------------------------------------

/// Presence to an unmapped address is dropped silently, after a debug log line (disabled here).
void BM_PresenceUnknown_ParseDispatch(benchmark::State& state) {
    constexpr int per_body = 2048;
    const std::string body = stream_body(presence_to_unknown, per_body);
    Logger logger(LogLevel::warning);
    std::int64_t handled = 0;
    StanzaDispatcher dispatcher(
        std::string(domain), [](const XmlNode&) {}, logger);
    run_stream(
        state, body, per_body,
        [&](XmlNode stanza) {
            dispatcher.dispatch(stanza);
            ++handled;
        },
        handled);
}
BENCHMARK(BM_PresenceUnknown_ParseDispatch);

/// Error stanzas with no address handler: dropped after a debug log line (disabled here).
void BM_ErrorMessage_ParseDispatch(benchmark::State& state) {
    constexpr int per_body = 2048;
    const std::string body = stream_body(error_message, per_body);
    Logger logger(LogLevel::warning);
    std::int64_t handled = 0;
    StanzaDispatcher dispatcher(
        std::string(domain), [](const XmlNode&) {}, logger);
    run_stream(
        state, body, per_body,
        [&](XmlNode stanza) {
            dispatcher.dispatch(stanza);
            ++handled;
        },
        handled);
}
BENCHMARK(BM_ErrorMessage_ParseDispatch);

/// The two Jid::parse calls StanzaDispatcher::dispatch makes for every stanza.
void BM_JidParse_FromAndTo(benchmark::State& state) {
    for (auto _ : state) {
        auto from = Jid::parse("alice@localhost/laptop-7c2e");
        auto to = Jid::parse("bob@ferry.localhost");
        benchmark::DoNotOptimize(from);
        benchmark::DoNotOptimize(to);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JidParse_FromAndTo);

/// Floor for any expat-based parser: expat with namespaces and no-op handlers on the same message stream.
void BM_Message_ExpatFloor(benchmark::State& state) {
    const std::string body = stream_body(typical_message, messages_per_body);
    XML_Parser parser = XML_ParserCreateNS("UTF-8", '\x1f');
    XML_SetReturnNSTriplet(parser, XML_TRUE);
    XML_SetElementHandler(
        parser, [](void*, const char*, const char**) {}, [](void*, const char*) {});
    XML_SetCharacterDataHandler(parser, [](void*, const char*, int) {});
#ifdef FERRY_HAVE_REPARSE_DEFERRAL
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#endif
    XML_Parse(parser, stream_header.data(), static_cast<int>(stream_header.size()), XML_FALSE);
    for (auto _ : state) {
        for (std::size_t at = 0; at < body.size(); at += chunk_size) {
            const std::size_t n = std::min(chunk_size, body.size() - at);
            if (XML_Parse(parser, body.data() + at, static_cast<int>(n), XML_FALSE) != XML_STATUS_OK) {
                state.SkipWithError("expat error");
                break;
            }
        }
    }
    XML_ParserFree(parser);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * messages_per_body);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Message_ExpatFloor);

} // namespace
