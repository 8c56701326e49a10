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
