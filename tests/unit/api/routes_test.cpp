#include "api/api.h"
#include "common/digest.h"

#include "process.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

using namespace bw;
using bw::test::RefusingPort;
using nlohmann::json;

namespace {

// The API over a real store and scan service, without sockets.
struct Fixture {
  test::TempDir dir;
  boost::asio::io_context ioc;
  boost::asio::thread_pool workers{1};
  std::unique_ptr<Store> store = open_sqlite_store({dir.path() + "/b.db"}).value();
  Config config;
  RegistryClient registry{ioc.get_executor(), config.registry};
  Reporter reporter{*store, ReportOptions{}};
  ScanService scans{ioc.get_executor(), workers, *store, registry, config.scan, &reporter};
  HttpMetrics http;
  ApiContext ctx{scans, reporter, *store, registry, config, http};

  ~Fixture() { workers.join(); }

  ApiResponse call(std::string method, std::string target, std::string body = "",
                   std::string auth = "") {
    // route() takes the request by reference: it must outlive the coroutine.
    ApiRequest req{method, target, body, "t", auth};
    auto fut = boost::asio::co_spawn(ioc, route(req, ctx), boost::asio::use_future);
    ioc.restart();
    ioc.run_for(std::chrono::seconds(5));
    // A route that never finishes fails this case instead of blocking the whole run.
    REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    return fut.get();
  }
};

json error_of(const ApiResponse& r) {
  auto j = json::parse(r.body);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["message"].is_string());
  return j["error"];
}

}  // namespace

TEST_CASE("operations routes") {
  Fixture f;
  auto h = f.call("GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(json::parse(h.body)["status"] == "ok");
  auto r = f.call("GET", "/readyz");
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["schema_version"] >= 1);
  CHECK(json::parse(f.call("GET", "/version").body)["version"] == std::string(kVersion));
  auto m = f.call("GET", "/metrics");
  CHECK(m.status == 200);
  CHECK(m.content_type.starts_with("text/plain"));
  CHECK(m.body.find("bulwark_scans_submitted_total 0") != std::string::npos);
  f.ctx.ready = false;
  CHECK(f.call("GET", "/readyz").status == 503);
}

TEST_CASE("every error is JSON with the contract's code and status") {
  Fixture f;
  auto nf = f.call("GET", "/nope");
  CHECK(nf.status == 404);
  CHECK(error_of(nf)["code"] == "not_found");
  auto mna = f.call("PUT", "/v1/scans");
  CHECK(mna.status == 405);
  CHECK(error_of(mna)["code"] == "method_not_allowed");
  CHECK(mna.headers.at(0).first == "Allow");
  auto bad = f.call("POST", "/v1/scans", "{\"image\":");
  CHECK(bad.status == 400);
  CHECK(error_of(bad)["code"] == "bad_request");
  CHECK(error_of(f.call("POST", "/v1/scans", "[1]"))["code"] == "bad_request");
  CHECK(error_of(f.call("POST", "/v1/scans", "{}"))["code"] == "bad_request");
  CHECK(error_of(f.call("POST", "/v1/scans", R"({"image": 5})"))["code"] == "bad_request");
  auto ref = f.call("POST", "/v1/scans", R"({"image": "Not A Ref"})");
  CHECK(ref.status == 400);
  CHECK(error_of(ref)["code"] == "bad_reference");
  auto plat = f.call("POST", "/v1/scans", R"({"image": "127.0.0.1:5000/a", "platform": "linux"})");
  CHECK(plat.status == 400);
  auto denied = f.call("POST", "/v1/scans", R"({"image": "10.0.0.1:5000/a"})");
  CHECK(denied.status == 403);
  CHECK(error_of(denied)["code"] == "registry_not_allowed");
  CHECK(f.call("GET", "/v1/scans/scan_" + std::string(32, 'a')).status == 404);
  CHECK(f.call("GET", "/v1/scans/../../etc/passwd").status == 404);
  CHECK(f.call("GET", "/v1/images/sha256:abc").status == 400);
  CHECK(f.call("GET", "/v1/images/sha256:" + std::string(64, 'a')).status == 404);
  CHECK(f.call("GET", "/v1/layers/sha256:" + std::string(64, 'a')).status == 404);
  CHECK(f.call("GET", "/v1/scans?limit=0").status == 400);
  CHECK(f.call("GET", "/v1/scans/scan_" + std::string(32, 'a') + "?wait=abc").status == 400);
}

TEST_CASE("a submitted scan is queued and visible") {
  Fixture f;
  // A bound port nobody listens on: the scan fails fast and stays local.
  RefusingPort closed;
  auto r =
      f.call("POST", "/v1/scans",
             json{{"image", closed.host() + "/team/app:1"}, {"platform", "linux/arm64"}}.dump());
  REQUIRE(r.status == 202);
  auto j = json::parse(r.body);
  CHECK(j["status"] == "queued");
  CHECK(j["platform"] == "linux/arm64");
  std::string id = j["id"];
  auto g = f.call("GET", "/v1/scans/" + id + "?wait=5");
  REQUIRE(g.status == 200);
  auto s = json::parse(g.body);
  CHECK(s["status"] == "failed");
  CHECK(s["error"]["code"] == "registry_unreachable");
  CHECK(s["image"] == closed.host() + "/team/app:1");
  auto list = json::parse(f.call("GET", "/v1/scans?status=failed").body);
  REQUIRE(list["scans"].size() == 1);
  CHECK(list["scans"][0]["id"] == id);
}

TEST_CASE("with API tokens, /v1 needs a token with the route's scope; operations stay open") {
  Fixture f;
  std::string reader = "reader-token-0123456789", ci = "ci-token-0123456789";
  f.config.api.tokens = {{"dash", sha256_digest(reader).substr(7), {"read"}},
                         {"ci", sha256_digest(ci).substr(7), {"read", "scan"}}};
  auto none = f.call("GET", "/v1/scans");
  CHECK(none.status == 401);
  CHECK(error_of(none)["code"] == "unauthorized");
  CHECK(none.headers.at(0).first == "WWW-Authenticate");
  CHECK(f.call("GET", "/v1/scans", "", "Bearer wrong").status == 401);
  CHECK(f.call("GET", "/v1/scans", "", "Basic " + reader).status == 401);
  CHECK(f.call("GET", "/v1/scans", "", "Bearer " + reader).status == 200);
  RefusingPort closed;
  std::string scan = json{{"image", closed.host() + "/a:1"}}.dump();
  auto post = f.call("POST", "/v1/scans", scan, "Bearer " + reader);
  CHECK(post.status == 403);
  CHECK(error_of(post)["code"] == "forbidden");
  CHECK(post.body.find(reader) == std::string::npos);
  CHECK(f.call("POST", "/v1/scans", scan, "Bearer " + ci).status == 202);
  CHECK(f.call("PUT", "/v1/suppressions", R"({"suppressions": []})", "Bearer " + ci).status == 403);
  CHECK(f.call("GET", "/healthz").status == 200);
  CHECK(f.call("GET", "/metrics").status == 200);
}
