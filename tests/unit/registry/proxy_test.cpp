#include "net/proxy.h"

#include <doctest/doctest.h>

#include <map>

using namespace bw::net;

TEST_CASE("NO_PROXY as curl reads it") {
  CHECK(no_proxy_matches("*", "anything.example"));
  CHECK(no_proxy_matches("example.com", "example.com"));
  CHECK(no_proxy_matches("example.com", "registry.example.com"));
  CHECK(no_proxy_matches(".example.com", "registry.example.com"));
  CHECK_FALSE(no_proxy_matches("example.com", "badexample.com"));
  CHECK(no_proxy_matches(" localhost , 10.0.0.0/8", "10.1.2.3"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "11.1.2.3"));
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1"));
  CHECK(no_proxy_matches("[::1]", "::1"));
  CHECK(no_proxy_matches("fd00::/8", "fd12::1"));
  CHECK(no_proxy_matches("registry.corp:5000", "registry.corp"));
  CHECK_FALSE(no_proxy_matches("", "example.com"));
}

TEST_CASE("proxy choice by scheme, with credentials from the proxy URL") {
  std::map<std::string, std::string> env = {{"HTTP_PROXY", "http://ignored:1"},
                                            {"HTTPS_PROXY", "http://u:p@proxy.corp:3128"},
                                            {"no_proxy", "internal.corp"}};
  auto cfg = ProxyConfig::from_env([&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  CHECK(cfg.http.empty());  // upper-case HTTP_PROXY is ignored, as curl does
  auto p = choose_proxy(cfg, "https", "ghcr.io");
  REQUIRE(p);
  REQUIRE(*p);
  CHECK((*p)->host == "proxy.corp");
  CHECK((*p)->port == "3128");
  CHECK((*p)->authorization == "Basic dTpw");
  CHECK_FALSE(*choose_proxy(cfg, "https", "reg.internal.corp"));
  CHECK_FALSE(*choose_proxy(cfg, "http", "ghcr.io"));
  cfg.https = "socks5://x:1";
  CHECK_FALSE(choose_proxy(cfg, "https", "ghcr.io"));
}

TEST_CASE("NO_PROXY ranges that do not parse match nothing; IPv6 ranges to the bit") {
  CHECK_FALSE(no_proxy_matches("10.0.0.0/99", "10.0.0.1"));
  CHECK_FALSE(no_proxy_matches("fd00::/999", "fd00::1"));
  CHECK(no_proxy_matches("::1/128", "::1"));
  CHECK_FALSE(no_proxy_matches("fd00::/8", "fe80::1"));
  CHECK(no_proxy_matches("2001:db8::/33", "2001:db8:7fff::1"));
  CHECK_FALSE(no_proxy_matches("2001:db8::/33", "2001:db8:8000::1"));
  CHECK(no_proxy_matches("::/0", "2001:db8::1"));
  CHECK_FALSE(no_proxy_matches("example.com", "10.0.0.1"));  // names never match addresses
  CHECK_FALSE(no_proxy_matches("fd00::1", "example.com"));   // nor addresses names
  CHECK(no_proxy_matches(",,Example.COM,", "REGISTRY.example.com"));
}

TEST_CASE("proxy URLs: no scheme, IPv6 hosts, default port, no host") {
  ProxyConfig cfg{"proxy.corp:3128", "http://[fd00::5]", ""};
  auto plain = choose_proxy(cfg, "http", "ghcr.io");
  REQUIRE(plain);
  REQUIRE(*plain);
  CHECK((*plain)->host == "proxy.corp");
  CHECK((*plain)->port == "3128");
  CHECK((*plain)->authorization.empty());
  auto v6 = choose_proxy(cfg, "https", "ghcr.io");
  REQUIRE(v6);
  REQUIRE(*v6);
  CHECK((*v6)->host == "fd00::5");
  CHECK((*v6)->port == "1080");
  cfg.https = "http://";
  auto none = choose_proxy(cfg, "https", "ghcr.io");
  REQUIRE_FALSE(none);
  CHECK(none.error().code == bw::Errc::bad_request);
}
