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

TEST_CASE("api client: a download goes to the sink; one cut short is an error, not a short file") {
  const std::string body(3 << 20, 'x');
  FaultServer whole([&](const SeenRequest&) {
    return Reply{200, {{"Content-Type", "application/x-tar"}, {"Bulwark-Harden", "{}"}}, body};
  });
  std::string got;
  auto sink = [&got](std::string_view piece) {
    got += piece;
    return true;
  };
  auto ok = cli::ApiClient::create("http://" + whole.host())->download("POST", "/x", "{}", sink);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body.empty());
  CHECK(ok->header("bulwark-harden") == "{}");
  CHECK(got == body);

  FaultServer cut([&](const SeenRequest&) {
    Reply r{200, {{"Content-Type", "application/x-tar"}}, body};
    r.send_bytes = 1 << 20;
    return r;
  });
  got.clear();
  auto short_read =
      cli::ApiClient::create("http://" + cut.host())->download("POST", "/x", "{}", sink);
  REQUIRE_FALSE(short_read);
  CHECK(short_read.error().code == Errc::unavailable);
  CHECK(short_read.error().message.find("ended short") != std::string::npos);

  // An error answer is read whole, as JSON, and nothing reaches the sink.
  FaultServer refused([](const SeenRequest&) {
    return Reply{409, {{"Content-Type", "application/json"}}, R"({"error":{"code":"conflict"}})"};
  });
  got.clear();
  auto conflict =
      cli::ApiClient::create("http://" + refused.host())->download("POST", "/x", "{}", sink);
  REQUIRE(conflict);
  CHECK(conflict->status == 409);
  CHECK(conflict->body.find("conflict") != std::string::npos);
  CHECK(got.empty());
}
