// URLs the HTTP client accepts: registries' Location and realm headers and configuration feed
// it, so what it refuses matters as much as what it reads.
#include "net/http_client.h"

#include <doctest/doctest.h>

using namespace bw;

TEST_CASE("parse_url reads absolute http(s) URLs, IPv6 included, with default ports") {
  auto u = net::parse_url("https://registry.example/v2/?n=1");
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->host == "registry.example");
  CHECK(u->port == "443");
  CHECK(u->target == "/v2/?n=1");
  CHECK(u->origin() == "https://registry.example:443");
  auto v6 = net::parse_url("http://[::1]:5000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == "5000");
  CHECK(v6->target == "/");
}

TEST_CASE("parse_url refuses what is not an absolute http(s) URL to a host, without userinfo") {
  struct Case {
    const char* text;
    const char* says;
  };
  for (auto c :
       {Case{"not a url", "invalid URL"}, Case{"/v2/relative", "invalid URL"},
        Case{"ftp://host/x", "scheme must be http or https"}, Case{"http:///path", "no host"},
        Case{"https://user:pass@registry.example/", "must not carry credentials"}}) {
    auto r = net::parse_url(c.text);
    INFO(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_request);
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("resolve_url follows relative, absolute and scheme-relative Locations") {
  auto base = net::parse_url("https://registry.example:8443/v2/app/blobs/sha256:1");
  REQUIRE(base);
  auto rel = net::resolve_url(*base, "../manifests/x?y=1");
  REQUIRE(rel);
  CHECK(rel->str() == "https://registry.example:8443/v2/app/manifests/x?y=1");
  auto other = net::resolve_url(*base, "//cdn.example/blob");
  REQUIRE(other);
  CHECK(other->host == "cdn.example");
  CHECK(other->port == "443");
  auto abs = net::resolve_url(*base, "http://[::1]/b");
  REQUIRE(abs);
  CHECK(abs->origin() == "http://[::1]:80");
  auto bad = net::resolve_url(*base, "http://[broken/");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::registry_error);
  auto query = net::parse_url("HTTP://Registry.Example?n=1");
  REQUIRE(query);
  CHECK(query->scheme == "http");
  CHECK(query->target == "/?n=1");
}
