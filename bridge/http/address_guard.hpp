#pragma once

#include <boost/asio/ip/address.hpp>
#include <string_view>

namespace ferry::http {

/// Why `address` is not a public unicast internet address (loopback, RFC 1918 private, link-local — cloud
/// metadata services live there —, carrier-grade NAT, unique-local IPv6, multicast, unspecified,
/// reserved, documentation ranges), or an empty view when it is public. IPv4-mapped IPv6 addresses are
/// judged as the IPv4 address they carry.
std::string_view non_public_reason(const boost::asio::ip::address& address);

} // namespace ferry::http
