// The HTTP client's redirect rules against a server the test scripts: what a redirect may
// carry, where it may go, and what it turns a request into.
#include "net/http_client.h"

#include "fault_server.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

using namespace bw;
using bw::test::FaultServer;
using bw::test::Reply;
using bw::test::SeenRequest;

namespace {

Result<net::HttpResponse> send(net::HttpRequest req, net::HttpOptions options = {}) {
  boost::asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), std::move(options));
  auto fut =
      boost::asio::co_spawn(ioc, client.fetch(std::move(req), 1 << 20), boost::asio::use_future);
  ioc.run_for(std::chrono::seconds(30));
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  return fut.get();
}

net::HttpRequest request(const std::string& method, const std::string& url, std::string body = "") {
  net::HttpRequest r;
  r.method = method;
  r.url = net::parse_url(url).value();
  r.body = std::move(body);
  if (!r.body.empty()) r.content_type = "application/json";
  return r;
}

}  // namespace

TEST_CASE("redirects: 303 and a POST after 301 become GET; 307 keeps the method and body") {
  FaultServer target([](const SeenRequest& r) {
    return Reply{200, {}, r.method + " " + r.target + " " + r.body};
  });
  FaultServer hop([&](const SeenRequest& r) {
    if (r.target == "/see-other") return Reply{303, {{"Location", "/done"}}, ""};
    if (r.target == "/moved") return Reply{301, {{"Location", "/done"}}, ""};
    if (r.target == "/temporary") return Reply{307, {{"Location", "/done"}}, ""};
    return Reply{200, {}, r.method + " " + r.target + " " + r.body};
  });
  auto see_other = send(request("POST", "http://" + hop.host() + "/see-other", "{}"));
  REQUIRE(see_other);
  CHECK(see_other->body == "GET /done ");
  auto moved = send(request("POST", "http://" + hop.host() + "/moved", "{}"));
  REQUIRE(moved);
  CHECK(moved->body == "GET /done ");
  auto temporary = send(request("PUT", "http://" + hop.host() + "/temporary", "{\"a\":1}"));
  REQUIRE(temporary);
  CHECK(temporary->body == "PUT /done {\"a\":1}");
}

TEST_CASE("redirects that are refused: no Location, a bad one, a body to another origin") {
  FaultServer other([](const SeenRequest&) { return Reply{200, {}, "other"}; });
  FaultServer hop([&](const SeenRequest& r) {
    if (r.target == "/nowhere") return Reply{302, {}, ""};
    if (r.target == "/bad") return Reply{302, {{"Location", "http://[broken/"}}, ""};
    return Reply{307, {{"Location", "http://" + other.host() + "/x"}}, ""};
  });
  auto nowhere = send(request("GET", "http://" + hop.host() + "/nowhere"));
  REQUIRE_FALSE(nowhere);
  CHECK(nowhere.error().message == "redirect without Location");
  auto bad = send(request("GET", "http://" + hop.host() + "/bad"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::registry_error);
  // A body (an upload) is not handed to another origin; a plain GET follows.
  auto upload = send(request("PUT", "http://" + hop.host() + "/up", "data"));
  REQUIRE_FALSE(upload);
  auto get = send(request("GET", "http://" + hop.host() + "/up"));
  REQUIRE(get);
  CHECK(get->body == "other");
  // A redirect target the policy refuses.
  net::HttpOptions strict;
  strict.url_allowed = [&](const net::Url& u, bool redirect) -> Result<void> {
    if (redirect && u.port == std::to_string(other.port()))
      return make_error(Errc::registry_not_allowed, "not that one");
    return {};
  };
  auto refused = send(request("GET", "http://" + hop.host() + "/up"), strict);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::registry_not_allowed);
}

namespace {

struct Streamed {
  Result<net::HttpResponse> response = make_error(Errc::internal, "not run");
  std::vector<std::size_t> chunks;
  std::string body;
};

Streamed stream(const std::string& url, std::size_t chunk_bytes) {
  boost::asio::io_context ioc;
  net::HttpOptions options;
  options.stream_chunk_bytes = chunk_bytes;
  net::HttpClient client(ioc.get_executor(), options);
  Streamed out;
  auto on_chunk = [&](std::string chunk) -> boost::asio::awaitable<bool> {
    out.chunks.push_back(chunk.size());
    out.body += chunk;
    co_return true;
  };
  auto fut = boost::asio::co_spawn(ioc, client.stream(request("GET", url), nullptr, on_chunk),
                                   boost::asio::use_future);
  ioc.run_for(std::chrono::seconds(30));
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  out.response = fut.get();
  return out;
}

}  // namespace

TEST_CASE("a streamed body of known length arrives whole, in order, in full chunks") {
  std::string body(1000 * 1000 + 17, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 7919) >> 3);
  FaultServer server([&](const SeenRequest& r) {
    Reply reply{200, {}, body};
    if (r.target == "/cut") reply.send_bytes = 300 * 1000;  // Content-Length still says all
    return reply;
  });
  auto whole = stream("http://" + server.host() + "/blob", 64 * 1024);
  REQUIRE(whole.response);
  CHECK(whole.response->status == 200);
  CHECK(whole.body == body);
  // Every chunk full but the last, however the bytes arrived: consumers hash and inflate in
  // blocks of the chunk's size.
  REQUIRE(whole.chunks.size() == (body.size() + 64 * 1024 - 1) / (64 * 1024));
  for (std::size_t i = 0; i + 1 < whole.chunks.size(); ++i) CHECK(whole.chunks[i] == 64 * 1024);
  // Cut short: the bytes before the cut are handed on (a resumed transfer starts after them),
  // then the error says where it stopped.
  auto cut = stream("http://" + server.host() + "/cut", 64 * 1024);
  REQUIRE_FALSE(cut.response);
  CHECK(cut.response.error().code == Errc::registry_unreachable);
  CHECK(cut.response.error().message.find("closed mid-body after 300000 bytes") !=
        std::string::npos);
  CHECK(cut.body == body.substr(0, 300 * 1000));
}
