#include "registry/challenge.h"
#include "registry/registry.h"

#include <doctest/doctest.h>

using namespace bw;

TEST_CASE("a Docker Hub bearer challenge") {
  auto c = parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "bearer");
  CHECK(c[0].params["realm"] == "https://auth.docker.io/token");
  CHECK(c[0].params["service"] == "registry.docker.io");
  CHECK(c[0].params["scope"] == "repository:library/nginx:pull");
}

TEST_CASE("quoted values with commas, escapes, spaces and several challenges") {
  auto c = parse_challenges(
      R"(Basic realm="Registry, Inc.", Bearer realm="https://x/t", scope="repository:a:pull,push repository:b:pull", error="insufficient_scope", note="say \"hi\"")");
  REQUIRE(c.size() == 2);
  CHECK(c[0].scheme == "basic");
  CHECK(c[0].params["realm"] == "Registry, Inc.");
  CHECK(c[1].params["scope"] == "repository:a:pull,push repository:b:pull");
  CHECK(c[1].params["error"] == "insufficient_scope");
  CHECK(c[1].params["note"] == "say \"hi\"");
}

TEST_CASE("unquoted values, mixed case and junk do not break parsing") {
  auto c = parse_challenges("  BEARER Realm=https://r/t , Service=svc");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "bearer");
  CHECK(c[0].params["realm"] == "https://r/t");
  CHECK(c[0].params["service"] == "svc");
  CHECK(parse_challenges("").empty());
  CHECK(parse_challenges("=,=\"").empty());
  CHECK(parse_challenges("Bearer realm=\"unterminated").at(0).params["realm"] == "unterminated");
}

TEST_CASE("Link pagination headers") {
  CHECK(next_link(R"(</v2/_catalog?last=b&n=2>; rel="next")") == "/v2/_catalog?last=b&n=2");
  CHECK(next_link(R"(</v2/x?p=1>; rel="prev", </v2/x?p=3>; rel="next")") == "/v2/x?p=3");
  CHECK(next_link("").empty());
  CHECK(next_link(R"(</v2/x>; rel="prev")").empty());
}

TEST_CASE("Retry-After as seconds or an HTTP date") {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_retry_after("5", now) == std::chrono::seconds(5));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now) == std::chrono::seconds(60));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:40:37 GMT", now) == std::chrono::seconds(0));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("", now));
}

TEST_CASE("challenges ending mid-token, token68 values, tabs, and trailing escapes") {
  auto bare = parse_challenges("Negotiate");
  REQUIRE(bare.size() == 1);
  CHECK(bare[0].scheme == "negotiate");
  CHECK(bare[0].params.empty());
  // A token68 credential hint (no '='), then a parameter list in another challenge.
  auto t68 = parse_challenges("Custom abc123, Bearer realm=r\tservice=s");
  REQUIRE_FALSE(t68.empty());
  CHECK(t68.back().params["realm"] == "r");
  auto trailing = parse_challenges("Bearer realm=\"ends with \\");
  REQUIRE(trailing.size() == 1);
  CHECK(trailing[0].params["realm"].starts_with("ends with"));
  auto key_only = parse_challenges("Bearer realm=");
  REQUIRE(key_only.size() == 1);
  CHECK(key_only[0].params["realm"].empty());
  CHECK(parse_challenges("Bearer realm=x,").at(0).params["realm"] == "x");
}

TEST_CASE("Retry-After with leading spaces or absurdly long; addresses a registry may resolve to") {
  auto now = std::chrono::system_clock::from_time_t(784111777);
  CHECK(parse_retry_after("  120", now) == std::chrono::seconds(120));
  CHECK(parse_retry_after("12345678901234", now) == std::chrono::seconds(999'999'999));
  CHECK_FALSE(parse_retry_after("   ", now));
  namespace ip = boost::asio::ip;
  auto ok = [](const char* a, bool loopback, bool link_local) {
    return address_permitted(ip::make_address(a), loopback, link_local);
  };
  CHECK_FALSE(ok("0.0.0.0", true, true));
  CHECK_FALSE(ok("224.0.0.1", true, true));
  CHECK_FALSE(ok("::", true, true));
  CHECK_FALSE(ok("127.0.0.1", false, true));
  CHECK(ok("127.0.0.1", true, false));
  CHECK_FALSE(ok("169.254.169.254", true, false));
  CHECK(ok("169.254.169.254", true, true));
  CHECK_FALSE(ok("100.100.100.200", true, false));
  CHECK_FALSE(ok("fe80::1", true, false));
  CHECK_FALSE(ok("fd00:ec2::254", true, false));
  CHECK(ok("fd00:ec2::255", false, false));
  CHECK_FALSE(ok("::ffff:169.254.169.254", true, false));  // v4-mapped: judged as IPv4
  CHECK(ok("::ffff:93.184.216.34", false, false));
  CHECK(ok("93.184.216.34", false, false));
}
