#include "net/proxy.h"

#include "common/text.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace bw::net {
namespace {

bool in_cidr(const std::string& cidr, const boost::asio::ip::address& addr) {
  boost::system::error_code ec;
  if (addr.is_v4()) {
    auto net = boost::asio::ip::make_network_v4(cidr, ec);
    if (ec) return false;
    return (addr.to_v4().to_uint() & net.netmask().to_uint()) == net.network().to_uint();
  }
  auto net = boost::asio::ip::make_network_v6(cidr, ec);
  if (ec) return false;
  auto a = addr.to_v6().to_bytes(), n = net.network().to_bytes();
  unsigned bits = net.prefix_length();
  for (unsigned i = 0; i < 16 && bits > 0; ++i) {
    unsigned take = std::min(bits, 8u);
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((a[i] & mask) != (n[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

ProxyConfig ProxyConfig::from_env(const std::function<const char*(const char*)>& env) {
  auto first = [&](std::initializer_list<const char*> names) {
    for (auto n : names)
      if (const char* v = env(n); v && *v) return std::string(v);
    return std::string();
  };
  return ProxyConfig{first({"http_proxy"}), first({"https_proxy", "HTTPS_PROXY"}),
                     first({"no_proxy", "NO_PROXY"})};
}

bool no_proxy_matches(const std::string& no_proxy, const std::string& host_in) {
  std::string host = to_lower(host_in);
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  bool is_ip = !ec;
  std::size_t start = 0;
  while (start <= no_proxy.size()) {
    auto comma = no_proxy.find(',', start);
    std::string entry = to_lower(trim(std::string_view(no_proxy).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start)));
    start = comma == std::string::npos ? no_proxy.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.starts_with('[') && entry.ends_with(']')) entry = entry.substr(1, entry.size() - 2);
    if (is_ip) {
      if (entry.find('/') != std::string::npos ? in_cidr(entry, addr) : entry == host) return true;
      continue;
    }
    // A host without its port; "example.com" and ".example.com" both cover subdomains.
    if (auto colon = entry.rfind(':'); colon != std::string::npos && entry.find(':') == colon)
      entry.resize(colon);
    if (entry.starts_with('.')) entry.erase(0, 1);
    if (host == entry || (host.size() > entry.size() && host.ends_with("." + entry))) return true;
  }
  return false;
}

Result<std::optional<ProxyEndpoint>> choose_proxy(const ProxyConfig& config,
                                                  const std::string& scheme,
                                                  const std::string& host) {
  const std::string& proxy = scheme == "https" ? config.https : config.http;
  if (proxy.empty() || no_proxy_matches(config.no_proxy, host))
    return std::optional<ProxyEndpoint>();
  std::string text = proxy.find("://") == std::string::npos ? "http://" + proxy : proxy;
  auto u = boost::urls::parse_absolute_uri(text);
  if (!u || u->scheme() != "http" || u->encoded_host().empty())
    return make_error(Errc::bad_request,
                      "proxy must be an http:// URL (HTTPS is tunnelled through it with CONNECT)");
  ProxyEndpoint ep;
  ep.host = std::string(u->encoded_host_address());
  if (ep.host.starts_with('[')) ep.host = ep.host.substr(1, ep.host.size() - 2);
  ep.port = u->has_port() ? std::string(u->port()) : "1080";
  if (u->has_userinfo()) {
    std::string info = std::string(u->user()) + ":" + std::string(u->password());
    namespace b64 = boost::beast::detail::base64;
    std::string enc(b64::encoded_size(info.size()), '\0');
    enc.resize(b64::encode(enc.data(), info.data(), info.size()));
    ep.authorization = "Basic " + enc;
  }
  return std::optional<ProxyEndpoint>(std::move(ep));
}

}  // namespace bw::net
