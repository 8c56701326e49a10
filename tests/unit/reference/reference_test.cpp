#include "reference/reference.h"

#include <doctest/doctest.h>

using bw::parse_reference;

TEST_CASE("short names normalise to docker.io/library with latest") {
  auto r = parse_reference("nginx");
  REQUIRE(r);
  CHECK(r->registry == "docker.io");
  CHECK(r->repository == "library/nginx");
  CHECK(r->tag == "latest");
  CHECK(r->digest.empty());
  CHECK(r->canonical() == "docker.io/library/nginx:latest");
  CHECK(r->api_host() == "registry-1.docker.io");
}

TEST_CASE("user repositories on docker.io keep their namespace") {
  auto r = parse_reference("bitnami/redis:7.2");
  REQUIRE(r);
  CHECK(r->canonical() == "docker.io/bitnami/redis:7.2");
}

TEST_CASE("docker.io aliases") {
  for (auto text : {"index.docker.io/library/alpine", "docker.io/alpine",
                    "registry-1.docker.io/library/alpine"}) {
    auto r = parse_reference(text);
    REQUIRE(r);
    CHECK(r->canonical() == "docker.io/library/alpine:latest");
  }
  CHECK(bw::normalize_registry("https://index.docker.io/v1/") == "docker.io");
}

TEST_CASE("registry with port, nested path and tag") {
  auto r = parse_reference("host:5000/a/b:tag");
  REQUIRE(r);
  CHECK(r->registry == "host:5000");
  CHECK(r->repository == "a/b");
  CHECK(r->tag == "tag");
  CHECK(r->api_host() == "host:5000");
}

TEST_CASE("localhost and IP registries; the port is not a tag") {
  auto r = parse_reference("localhost:5000/app");
  REQUIRE(r);
  CHECK(r->registry == "localhost:5000");
  CHECK(r->tag == "latest");
  auto ip = parse_reference("127.0.0.1:5000/team/app:1.0");
  REQUIRE(ip);
  CHECK(ip->registry == "127.0.0.1:5000");
  CHECK(bw::is_loopback_registry(ip->registry));
  auto v6 = parse_reference("[::1]:5000/app:x");
  REQUIRE(v6);
  CHECK(v6->registry == "[::1]:5000");
  CHECK(bw::is_loopback_registry(v6->registry));
  CHECK_FALSE(bw::is_loopback_registry("ghcr.io"));
  CHECK(bw::is_loopback_registry("localhost"));
}

TEST_CASE("digests, with and without a tag") {
  std::string d = "sha256:" + std::string(64, 'a');
  auto r = parse_reference("nginx@" + d);
  REQUIRE(r);
  CHECK(r->digest == d);
  CHECK(r->tag.empty());
  CHECK(r->manifest_reference() == d);
  CHECK(r->canonical() == "docker.io/library/nginx@" + d);
  auto both = parse_reference("ghcr.io/o/app:1.2@" + d);
  REQUIRE(both);
  CHECK(both->tag == "1.2");
  CHECK(both->manifest_reference() == d);
}

TEST_CASE("invalid references are bad_reference with a reason") {
  for (auto text : {"", "UPPER", "a//b", "a/b:", ":tag", "nginx@sha256:123", "nginx@md5:abcd",
                    "a b", "-lead", "trail-", "a/b:-x", "host:/x", "a__b___c", "ghcr.io/Org/app"}) {
    auto r = parse_reference(text);
    CAPTURE(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == bw::Errc::bad_reference);
    CHECK_FALSE(r.error().message.empty());
  }
  CHECK_FALSE(parse_reference(std::string(300, 'a')));
  CHECK_FALSE(parse_reference("app:" + std::string(129, 't')));
}

TEST_CASE("separators allowed in path components") {
  for (auto text : {"a.b/c_d/e__f/g-h/i---j", "my-registry.example.com/a.b-c/d"}) {
    CAPTURE(text);
    CHECK(parse_reference(text));
  }
}

TEST_CASE("registry hosts and ports at their edges") {
  for (std::string text : std::vector<std::string>{"[::1/app",
                                                   "[zz::g]:5000/app",
                                                   "[::1]x/app",
                                                   "[::1]:/app",
                                                   "reg.io:/app",
                                                   "reg.io:99999/app",
                                                   "reg.io:0/app",
                                                   "reg.io:12a/app",
                                                   "reg.io:123456/app",
                                                   ":5000/app",
                                                   "-reg.io/app",
                                                   "reg-.io/app",
                                                   "re_g.io/app",
                                                   "reg..io/app",
                                                   "MyReg/app",
                                                   "a/b:.tag",
                                                   "a/b:t+g",
                                                   "a._b",
                                                   "a-.b",
                                                   std::string(1025, 'a')}) {
    CAPTURE(text);
    auto r = parse_reference(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == bw::Errc::bad_reference);
  }
  auto bare = parse_reference("[::1]/app");
  REQUIRE(bare);
  CHECK(bare->registry == "[::1]");
  CHECK(bw::is_loopback_registry(bare->registry));
  auto upper_local = parse_reference("LOCALHOST/app");
  REQUIRE(upper_local);
  CHECK(upper_local->registry == "localhost");
  // "library/" + 250 characters is past the 255 a repository name may have.
  CHECK_FALSE(parse_reference(std::string(250, 'a')));
  CHECK(parse_reference("reg.io/" + std::string(250, 'a')));
  CHECK(bw::registry_hostname("[::1") == "::1");
  CHECK(bw::registry_hostname("[::1]:5000") == "::1");
  CHECK(bw::registry_hostname("reg.io:5000") == "reg.io");
  CHECK(bw::is_loopback_registry("127.0.0.2:5000"));
  CHECK_FALSE(bw::is_loopback_registry("10.0.0.1:5000"));
  CHECK_FALSE(bw::is_loopback_registry("reg.example"));
}
