// Proxy selection as curl does it: http_proxy for http URLs (the upper-case form is ignored
// for http, as curl does, since CGI sets HTTP_PROXY from a request header), HTTPS_PROXY or
// https_proxy for https, and NO_PROXY / no_proxy exclusions ("*", host suffixes with or
// without a leading dot, IP addresses, CIDR ranges).
#pragma once

#include "common/error.h"

#include <functional>
#include <optional>
#include <string>

namespace bw::net {

struct ProxyConfig {
  std::string http;      // proxy URL for http:// targets, e.g. "http://user:pw@proxy:3128"
  std::string https;     // proxy URL for https:// targets
  std::string no_proxy;  // comma-separated exclusions

  static ProxyConfig from_env(const std::function<const char*(const char*)>& env);
};

struct ProxyEndpoint {
  std::string host;
  std::string port;
  std::string authorization;  // "Basic …" from the URL's user info, or empty
};

// The proxy to use for `scheme://host`, or nullopt to connect directly.
Result<std::optional<ProxyEndpoint>> choose_proxy(const ProxyConfig& config,
                                                  const std::string& scheme,
                                                  const std::string& host);

bool no_proxy_matches(const std::string& no_proxy, const std::string& host);

}  // namespace bw::net
