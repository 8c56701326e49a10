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
