// The CLI's client for bulwarkd: what it refuses before connecting, and what a server that
// fails mid-exchange turns into (unavailable, with the server named; never a crash or a hang).
#include "api_client.h"

#include "fault_server.h"
#include "process.h"

#include <doctest/doctest.h>

using namespace bw;
using namespace bw::test;

TEST_CASE("api client: server URLs it refuses, and headers read case-insensitively") {
  for (const char* bad : {"ftp://127.0.0.1:1", "127.0.0.1:8080", "http://", "not a url"}) {
    auto c = cli::ApiClient::create(bad);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == Errc::bad_request);
    CHECK(c.error().message.find("http(s)://HOST:PORT") != std::string::npos);
  }
  CHECK(cli::ApiClient::create("http://[::1]:8080"));
  CHECK(cli::ApiClient::create("https://bulwark.example"));
  cli::Reply r{200, "", {{"X-Request-Id", "abc"}}};
  CHECK(r.header("x-request-id") == "abc");
  CHECK(r.header("missing").empty());
}

TEST_CASE("api client: refused, cut short and unverifiable servers are unavailable, named") {
  RefusingPort closed;
  auto refused = cli::ApiClient::create("http://" + closed.host())->call("GET", "/healthz");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::unavailable);
  CHECK(refused.error().message.find("cannot reach bulwarkd at http://" + closed.host()) !=
        std::string::npos);

  // Headers promise 100 bytes; the server closes after 10.
  FaultServer cut([](const SeenRequest&) {
    Reply r{200, {{"Content-Type", "application/json"}}, std::string(100, 'x')};
    r.send_bytes = 10;
    return r;
  });
  auto partial = cli::ApiClient::create("http://" + cut.host())->call("GET", "/v1/stats");
  REQUIRE_FALSE(partial);
  CHECK(partial.error().code == Errc::unavailable);
  CHECK(partial.error().message.find("no answer from") != std::string::npos);

  // A CA file that cannot be read, and a plain-HTTP server spoken to over TLS.
  FaultServer plain([](const SeenRequest&) { return Reply{200, {}, "{}"}; });
  auto no_ca = cli::ApiClient::create("https://" + plain.host(), "", "/nonexistent/ca.pem")
                   ->call("GET", "/");
  REQUIRE_FALSE(no_ca);
  CHECK(no_ca.error().message.find("cannot load CA certificates") != std::string::npos);
  auto not_tls = cli::ApiClient::create("https://" + plain.host())->call("GET", "/healthz");
  REQUIRE_FALSE(not_tls);
  CHECK(not_tls.error().code == Errc::unavailable);
  CHECK(not_tls.error().message.find("TLS with bulwarkd at https://" + plain.host()) !=
        std::string::npos);

  // HEAD reads no body, whatever Content-Length says; a token goes as a bearer.
  FaultServer head([](const SeenRequest&) {
    Reply r{200, {{"Content-Type", "application/json"}}, ""};
    r.content_length = 1234;
    return r;
  });
  auto h = cli::ApiClient::create("http://" + head.host(), "tok-1")->call("HEAD", "/v1/stats");
  REQUIRE(h);
  CHECK(h->status == 200);
  CHECK(h->body.empty());
  REQUIRE(head.requests().size() == 1);
  CHECK(head.requests()[0].header("authorization") == "Bearer tok-1");
}
