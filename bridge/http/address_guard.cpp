#include "bridge/http/address_guard.hpp"

#include <array>
#include <cstdint>

namespace ferry::http {

namespace {

struct V4Range {
    std::uint32_t network;
    int prefix;
    std::string_view reason;
};

constexpr std::uint32_t v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | std::uint32_t{d};
}

// RFC 6890 special-purpose registry, the ranges a webhook has no business reaching.
constexpr std::array<V4Range, 14> v4_ranges{{
    {v4(0, 0, 0, 0), 8, "an unspecified (\"this network\") address"},
    {v4(10, 0, 0, 0), 8, "a private address (RFC 1918)"},
    {v4(100, 64, 0, 0), 10, "a carrier-grade NAT address (RFC 6598)"},
    {v4(127, 0, 0, 0), 8, "a loopback address"},
    {v4(169, 254, 0, 0), 16, "a link-local address"},
    {v4(172, 16, 0, 0), 12, "a private address (RFC 1918)"},
    {v4(192, 0, 0, 0), 24, "an IETF protocol assignment address"},
    {v4(192, 0, 2, 0), 24, "a documentation address"},
    {v4(192, 168, 0, 0), 16, "a private address (RFC 1918)"},
    {v4(198, 18, 0, 0), 15, "a benchmarking address"},
    {v4(198, 51, 100, 0), 24, "a documentation address"},
    {v4(203, 0, 113, 0), 24, "a documentation address"},
    {v4(224, 0, 0, 0), 4, "a multicast address"},
    {v4(240, 0, 0, 0), 4, "a reserved address"},
}};

std::string_view v4_reason(const boost::asio::ip::address_v4& address) {
    const std::uint32_t value = address.to_uint();
    for (const V4Range& range : v4_ranges) {
        const std::uint32_t mask = range.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - range.prefix);
        if ((value & mask) == range.network)
            return range.reason;
    }
    return {};
}

std::string_view v6_reason(const boost::asio::ip::address_v6& address) {
    if (address.is_v4_mapped())
        return v4_reason(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address));
    if (address.is_loopback())
        return "a loopback address";
    if (address.is_unspecified())
        return "an unspecified address";
    if (address.is_multicast())
        return "a multicast address";
    const auto bytes = address.to_bytes();
    if ((bytes[0] & 0xfe) == 0xfc)
        return "a unique local address (fc00::/7)";
    if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
        return "a link-local address";
    if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0xc0)
        return "a site-local address";
    if (bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8)
        return "a documentation address";
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b) {
        const boost::asio::ip::address_v4 embedded(
            boost::asio::ip::address_v4::bytes_type{bytes[12], bytes[13], bytes[14], bytes[15]});
        return v4_reason(embedded);
    }
    return {};
}

} // namespace

std::string_view non_public_reason(const boost::asio::ip::address& address) {
    return address.is_v4() ? v4_reason(address.to_v4()) : v6_reason(address.to_v6());
}

} // namespace ferry::http
