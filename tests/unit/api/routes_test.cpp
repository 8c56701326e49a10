#include "api/api.h"
#include "api/http_server.h"
#include "api/negotiate.h"
#include "common/digest.h"
#include "common/embedded.h"
#include "common/time_util.h"
#include "layer/decompress.h"

#include "process.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <set>

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
    return send(ApiRequest{method, target, body, "t", auth, {}, {}, {}});
  }

  // route() takes the request by reference: it must outlive the coroutine.
  ApiResponse send(const ApiRequest& req) {
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

TEST_CASE("a scan request's policy, platform and wait are checked field by field") {
  Fixture f;
  const std::string image = R"("image": "127.0.0.1:5000/a")";
  struct Case {
    std::string body, says;
  };
  for (auto& c : {Case{R"({"fail_under": 101, )" + image + "}", "fail_under"},
                  Case{R"({"fail_under": "high", )" + image + "}", "fail_under"},
                  Case{R"({"fail_on": "severe", )" + image + "}", "fail_on"},
                  Case{R"({"ignore": "BW-SHELL", )" + image + "}", "ignore"},
                  Case{R"({"ignore": [5], )" + image + "}", "ignore"},
                  Case{R"({"platform": 5, )" + image + "}", "platform"},
                  Case{R"({"wait": -1, )" + image + "}", "wait"},
                  Case{R"({"wait": "soon", )" + image + "}", "wait"}}) {
    auto r = f.call("POST", "/v1/scans", c.body);
    INFO(c.body);
    CHECK(r.status == 400);
    CHECK(error_of(r)["code"] == "bad_request");
    CHECK(error_of(r)["message"].get<std::string>().find(c.says) != std::string::npos);
  }
  // The same shapes through the other routes that take bodies and digests.
  CHECK(f.call("GET", "/v1/images/sha256:xyz/report").status == 400);
  for (auto body : {R"([])", R"({"suppressions": 5})", R"({"suppressions": [{"path": "x"}]})",
                    R"({"suppressions": [{"rule_id": 7}]})"}) {
    auto r = f.call("PUT", "/v1/suppressions", body);
    INFO(body);
    CHECK(r.status == 400);
    CHECK(error_of(r)["code"] == "bad_request");
  }
}

TEST_CASE("dashboard reads are kept while the store is unchanged; no-cache reads it again") {
  Fixture f;
  auto scans_of = [](const ApiResponse& r) { return json::parse(r.body)["scans"]; };
  auto first = f.call("GET", "/v1/stats");
  REQUIRE(first.status == 200);
  CHECK(scans_of(first).empty());
  std::string etag;
  for (auto& [k, v] : first.headers)
    if (k == "ETag") etag = v;
  REQUIRE_FALSE(etag.empty());
  ApiRequest conditional{"GET", "/v1/stats", "", "t", "", etag, {}, {}};
  CHECK(f.send(conditional).status == 304);
  // A row written behind the store's back (another tool): the store's generation does not
  // move, so the kept answer stands; a request with no-cache reads the store now.
  std::string out;
  REQUIRE(test::run_command({"sqlite3", f.dir.path() + "/b.db",
                             "INSERT INTO scans(id, image, platform, status, created_at) VALUES "
                             "('scan_x', 'reg.example/a:1', 'linux/amd64', 'failed', 'x')"},
                            out) == 0);
  CHECK(scans_of(f.call("GET", "/v1/stats")).empty());
  ApiRequest fresh{"GET", "/v1/stats", "", "t", "", {}, {}, {}, "no-cache"};
  CHECK(scans_of(f.send(fresh))["failed"] == 1);
  // A write through the store moves its generation: the next read is a new one.
  ScanRecord s;
  s.id = "scan_y";
  s.image = "reg.example/a:2";
  s.platform = "linux/amd64";
  s.status = ScanStatus::failed;
  s.created_at = "2026-01-01T00:00:00Z";
  REQUIRE(f.store->put_scan(s));
  CHECK(scans_of(f.call("GET", "/v1/stats"))["failed"] == 2);
  CHECK(f.send(conditional).status == 200);
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
  // Building and pushing images is a scope of its own: neither scan nor admin grants it.
  const std::string harden = "/v1/images/sha256:" + std::string(64, 'a') + "/harden";
  const std::string push = R"({"push": "127.0.0.1:1/team/app:hardened"})";
  CHECK(f.call("POST", harden, push, "Bearer " + ci).status == 403);
  std::string builder = "builder-token-0123456789";
  f.config.api.tokens.push_back({"builder", sha256_digest(builder).substr(7), {"harden"}});
  auto unknown = f.call("POST", harden, push, "Bearer " + builder);
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown)["code"] == "not_found");
  CHECK(error_of(f.call("POST", harden, "{}", "Bearer " + builder))["code"] == "bad_request");
  // One of push and output: both, or an output that is no OCI archive, is the caller's error.
  for (const char* body : {R"({"push": "127.0.0.1:1/a:1", "output": "oci-archive"})",
                           R"({"output": "docker-archive"})", R"({"output": 1})"})
    CHECK(error_of(f.call("POST", harden, body, "Bearer " + builder))["code"] == "bad_request");
  CHECK(f.call("POST", harden, R"({"output": "oci-archive"})", "Bearer " + builder).status == 404);
  CHECK(f.call("GET", "/healthz").status == 200);
  CHECK(f.call("GET", "/metrics").status == 200);
}

namespace {

std::string header(const ApiResponse& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

ApiRequest get(std::string target) {
  return ApiRequest{"GET", std::move(target), "", "t", "", "", "", ""};
}

std::string gunzip(const std::string& body) {
  MemorySource src(body);
  Compression kind = Compression::none;
  auto plain = open_decompressed(src, kind);
  REQUIRE(plain);
  CHECK(kind == Compression::gzip);
  std::string out(1 << 16, '\0'), all;
  while (true) {
    auto n = (*plain)->read(out.data(), out.size());
    REQUIRE(n);
    if (*n == 0) break;
    all.append(out.data(), *n);
  }
  return all;
}

// A finished scan as the scan service stores it, `days_ago` days back.
ScanRecord finished_scan(std::string id, std::string image, int days_ago, int score,
                         std::string grade) {
  ScanRecord s;
  s.id = std::move(id);
  s.image = std::move(image);
  s.platform = "linux/amd64";
  s.status = ScanStatus::done;
  s.manifest_digest = sha256_digest(s.id);
  s.created_at = s.started_at = s.finished_at =
      format_rfc3339(std::chrono::system_clock::now() - std::chrono::hours(24 * days_ago));
  s.result = json{{"score", score}, {"grade", grade}, {"verdict", "pass"}}.dump();
  return s;
}

}  // namespace

TEST_CASE("reads carry a strong ETag and Cache-Control; If-None-Match answers 304") {
  Fixture f;
  auto first = f.send(get("/v1/stats"));
  REQUIRE(first.status == 200);
  std::string etag = header(first, "ETag");
  CHECK(etag.size() == 34);
  CHECK(etag.front() == '"');
  CHECK(header(first, "Cache-Control") == "private, no-cache");
  auto again = get("/v1/stats");
  again.if_none_match = "\"other\", " + etag;
  auto not_modified = f.send(again);
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
  CHECK(header(not_modified, "ETag") == etag);
  again.if_none_match = "W/" + etag;  // weak comparison, as RFC 9110 says for If-None-Match
  CHECK(f.send(again).status == 304);
  again.if_none_match = "\"stale\"";
  CHECK(f.send(again).status == 200);
  // A change shows at once: a new suppression changes the list's validator.
  auto list = f.send(get("/v1/suppressions"));
  CHECK(f.call("PUT", "/v1/suppressions", R"({"suppressions":[{"rule_id":"BW-SHELL"}]})").status ==
        200);
  auto changed = get("/v1/suppressions");
  changed.if_none_match = header(list, "ETag");
  CHECK(f.send(changed).status == 200);
  // Errors and writes are never cached.
  CHECK(header(f.call("GET", "/v1/images/sha256:bad"), "ETag").empty());
}

TEST_CASE("gzip for clients that accept it, with its own validator") {
  Fixture f;
  auto plain = f.send(get("/v1/rules"));
  REQUIRE(plain.status == 200);
  REQUIRE(plain.body.size() > 1024);
  CHECK(header(plain, "Content-Encoding").empty());
  CHECK(header(plain, "Vary").find("Accept-Encoding") != std::string::npos);
  auto req = get("/v1/rules");
  req.accept_encoding = "br;q=1.0, gzip;q=0.8";
  auto packed = f.send(req);
  CHECK(header(packed, "Content-Encoding") == "gzip");
  CHECK(packed.body.size() < plain.body.size() / 2);
  CHECK(gunzip(packed.body) == plain.body);
  CHECK(header(packed, "ETag") != header(plain, "ETag"));
  req.if_none_match = header(packed, "ETag");
  CHECK(f.send(req).status == 304);
  req.if_none_match.clear();
  req.accept_encoding = "gzip;q=0, identity";
  CHECK(header(f.send(req), "Content-Encoding").empty());
  // Small answers are not worth it.
  req = get("/healthz");
  req.accept_encoding = "gzip";
  CHECK(header(f.send(req), "Content-Encoding").empty());
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
  CHECK_FALSE(accepts_gzip("deflate"));
}

TEST_CASE("HEAD is answered wherever GET is, without the body") {
  Fixture f;
  auto full = f.send(get("/v1/rules"));
  auto head = f.call("HEAD", "/v1/rules");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  REQUIRE(head.head_length);
  CHECK(*head.head_length == full.body.size());
  CHECK(header(head, "ETag") == header(full, "ETag"));
  CHECK(f.call("HEAD", "/v1/scans").status == 200);
  CHECK(f.call("HEAD", "/nope").status == 404);
  auto post_only = f.call("PATCH", "/v1/suppressions");
  CHECK(post_only.status == 405);
  CHECK(header(post_only, "Allow") == "GET, PUT, HEAD");
}

TEST_CASE("CORS for configured origins only; preflight needs no token") {
  Fixture f;
  f.config.api.cors_origins = {"https://dash.example"};
  f.config.api.tokens.push_back({"ci", sha256_digest("secret").substr(7), {"read"}});
  ApiRequest pre{"OPTIONS", "/v1/images", "", "t", "", "", "", "https://dash.example"};
  auto ok = f.send(pre);
  CHECK(ok.status == 204);
  CHECK(header(ok, "Access-Control-Allow-Origin") == "https://dash.example");
  CHECK(header(ok, "Access-Control-Allow-Headers").find("Authorization") != std::string::npos);
  pre.origin = "https://evil.example";
  auto refused = f.send(pre);
  CHECK(refused.status == 403);
  CHECK(error_of(refused)["code"] == "forbidden");
  auto req = get("/v1/stats");
  req.authorization = "Bearer secret";
  req.origin = "https://dash.example";
  auto r = f.send(req);
  CHECK(r.status == 200);
  CHECK(header(r, "Access-Control-Allow-Origin") == "https://dash.example");
  CHECK(header(r, "Access-Control-Expose-Headers").find("ETag") != std::string::npos);
  CHECK(header(r, "Vary").find("Origin") != std::string::npos);
  req.origin = "https://evil.example";
  CHECK(header(f.send(req), "Access-Control-Allow-Origin").empty());
  // Without an Origin, OPTIONS lists the methods.
  CHECK(f.call("OPTIONS", "/v1/scans").status == 204);
}

TEST_CASE("query parameters are validated: unknown names, enum values and numbers are 400") {
  Fixture f;
  for (const char* target :
       {"/v1/scans?status=bogus", "/v1/scans?limit=abc", "/v1/scans?limit=0",
        "/v1/scans?colour=red", "/v1/images?grade=Z", "/v1/images?grade=E",
        "/v1/images?since=yesterday", "/v1/images?min_score=-1", "/v1/images?max_score=101",
        "/v1/images?sort=name", "/v1/repositories?limit=x", "/v1/trends?days=0",
        "/v1/trends?days=400", "/v1/trends?repository=app", "/v1/stats?x=1",
        "/v1/scans/0123456789abcdef?wait=soon"}) {
    std::string t = target;
    CAPTURE(t);
    auto r = f.call("GET", target);
    CHECK(r.status == 400);
    CHECK(error_of(r)["code"] == "bad_request");
  }
  CHECK(error_of(f.call("GET", "/v1/scans?colour=red"))["message"] ==
        "unknown query parameter colour; allowed: status, image, cursor, limit");
  CHECK(f.call("GET", "/v1/images?grade=B&since=2026-01-31&sort=-score").status == 200);
  CHECK(f.call("GET", "/v1/images?since=2026-01-31T10:00:00Z").status == 200);
}

TEST_CASE("trends: the fleet's grades and scores per day, each image once") {
  Fixture f;
  REQUIRE(f.store->put_scan(finished_scan("s1", "reg.example/app:1", 2, 50, "D")));
  REQUIRE(f.store->put_scan(finished_scan("s2", "reg.example/app:1", 0, 40, "D")));
  REQUIRE(f.store->put_scan(finished_scan("s3", "reg.example/app:1", 0, 95, "A")));
  REQUIRE(f.store->put_scan(finished_scan("s4", "reg.example/db:7", 0, 30, "F")));
  REQUIRE(f.store->put_scan(finished_scan("s5", "other.example/app:1", 1, 70, "C")));
  auto r = f.call("GET", "/v1/trends?days=3&registry=reg.example");
  REQUIRE(r.status == 200);
  auto t = json::parse(r.body);
  REQUIRE(t["days"].size() == 3);
  auto& d0 = t["days"][0];
  CHECK(d0["images"] == 1);
  CHECK(d0["scans"] == 1);
  CHECK(d0["mean_score"] == 50.0);
  CHECK(d0["grades"]["D"] == 1);
  // No scan on day 1: the state carries over.
  CHECK(t["days"][1]["images"] == 1);
  CHECK(t["days"][1]["scans"] == 0);
  auto& d2 = t["days"][2];
  CHECK(d2["images"] == 2);
  CHECK(d2["scans"] == 3);
  CHECK(d2["grades"]["A"] == 1);
  CHECK(d2["grades"]["F"] == 1);
  CHECK(d2["mean_score"] == 62.5);
  CHECK(d2["min_score"] == 30);
  CHECK_FALSE(t.contains("images"));
  auto repo =
      json::parse(f.call("GET", "/v1/trends?days=3&registry=reg.example&repository=app").body);
  REQUIRE(repo["images"].size() == 1);
  CHECK(repo["images"][0]["image"] == "reg.example/app:1");
  // One point per day with scans: that day's last result.
  REQUIRE(repo["images"][0]["points"].size() == 2);
  CHECK(repo["images"][0]["points"][1]["score"] == 95);
  auto all = json::parse(f.call("GET", "/v1/trends?days=3").body);
  CHECK(all["days"][2]["images"] == 3);
}

TEST_CASE("suppressions keep a reason and when they were made") {
  Fixture f;
  auto put = f.call("PUT", "/v1/suppressions",
                    R"({"suppressions":[{"rule_id":"BW-SHELL","reason":"debug image"}]})");
  REQUIRE(put.status == 200);
  auto list = json::parse(f.call("GET", "/v1/suppressions").body)["suppressions"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["reason"] == "debug image");
  std::string created = list[0]["created_at"];
  CHECK(created.size() == 20);
  CHECK(
      f.call(
           "PUT", "/v1/suppressions",
           R"({"suppressions":[{"rule_id":"BW-SHELL","reason":"debug image"},{"rule_id":"BW-SUID","path":"usr/bin/su"}]})")
          .status == 200);
  list = json::parse(f.call("GET", "/v1/suppressions").body)["suppressions"];
  REQUIRE(list.size() == 2);
  CHECK(list[0]["created_at"] == created);
  CHECK(f.call("PUT", "/v1/suppressions", R"({"suppressions":[{"rule_id":"BW-SHELL","reason":7}]})")
            .status == 400);
}

TEST_CASE("list rows say how bad at a glance, name what a tag points to now; search") {
  Fixture f;
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b');
  LayerRecord l{"sha256:" + std::string(64, '1'),
                "application/vnd.oci.image.layer.v1.tar+gzip",
                kAnalyzerVersion,
                "2026-01-01T00:00:00Z",
                {}};
  l.facts.compression = "gzip";
  l.facts.diff_id = "sha256:" + std::string(64, 'd');
  REQUIRE(f.store->put_layer(l));
  auto put = [&](const std::string& digest) {
    ImageRecord im;
    im.manifest_digest = digest;
    im.media_type = "application/vnd.oci.image.manifest.v1+json";
    im.config_digest = "sha256:" + std::string(64, 'c');
    im.os = "linux";
    im.architecture = "amd64";
    im.config = R"({"config": {"User": "0"}})";  // root: a high finding
    im.manifest = "{}";
    im.layers.push_back({l.digest, l.media_type, 10, l.facts.diff_id});
    REQUIRE(f.store->put_image(im, TagRecord{"reg.example", "team/app", "prod", ""}));
    auto report = f.call("GET", "/v1/images/" + digest + "/report");
    REQUIRE(report.status == 200);
    return json::parse(report.body);
  };
  auto report = put(a);
  // The report says how the parts make the whole.
  auto& d = report["deductions"];
  CHECK(d["total"].get<int>() == 100 - report["score"].get<int>());  // under 60: linear
  CHECK(d["base"].get<int>() + d["app"].get<int>() >= d["total"].get<int>());
  auto rows = json::parse(f.call("GET", "/v1/images").body)["images"];
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["image"] == "reg.example/team/app:prod");
  CHECK(rows[0]["tag"] == "prod");
  std::map<std::string, int> counted;
  for (auto& x : report["findings"])
    if (!x["suppressed"].get<bool>()) ++counted[x["severity"].get<std::string>()];
  for (auto sev : {"critical", "high", "medium", "low", "info"})
    CHECK(rows[0]["severity_counts"][sev] == counted[sev]);
  CHECK(counted["high"] >= 1);
  CHECK(rows[0]["top_finding"]["severity"] == "high");
  // prod now names b: a's row is named by repository and digest, not by prod.
  put(b);
  rows = json::parse(f.call("GET", "/v1/images?sort=last_scanned").body)["images"];
  REQUIRE(rows.size() == 2);
  for (auto& row : rows) {
    if (row["manifest_digest"] == a) {
      CHECK(row["image"] == "reg.example/team/app@" + a);
      CHECK_FALSE(row.contains("tag"));
    } else {
      CHECK(row["image"] == "reg.example/team/app:prod");
    }
  }
  CHECK(json::parse(f.call("GET", "/v1/images?q=Team/App:PROD").body)["images"].size() == 1);
  CHECK(json::parse(f.call("GET", "/v1/images?q=team").body)["images"].size() == 2);
  CHECK(json::parse(f.call("GET", "/v1/images?q=nothing").body)["images"].empty());
  CHECK(f.call("GET", "/v1/images?q=" + std::string(201, 'x')).status == 400);

  // A suppression of the root finding scoped to another repository leaves these alone; one
  // scoped to this repository that expired yesterday says so and suppresses nothing; one in
  // force suppresses it here.
  std::string root_rule;
  for (auto& x : report["findings"])
    if (x["severity"] == "high") root_rule = x["rule_id"];
  auto yesterday = format_rfc3339(std::chrono::system_clock::now() - std::chrono::hours(24));
  auto next_year = format_rfc3339(std::chrono::system_clock::now() + std::chrono::hours(24 * 365));
  json body = {{"suppressions",
                {{{"rule_id", root_rule}, {"image", "reg.example/other"}, {"reason", "x"}},
                 {{"rule_id", root_rule},
                  {"image", "reg.example/team/app"},
                  {"reason", "until the rebuild"},
                  {"expires", yesterday.substr(0, 10)}}}}};
  REQUIRE(f.call("PUT", "/v1/suppressions", body.dump()).status == 200);
  auto sups = json::parse(f.call("GET", "/v1/suppressions").body)["suppressions"];
  REQUIRE(sups.size() == 2);
  CHECK_FALSE(sups[0].contains("expired"));
  CHECK(sups[1]["expired"] == true);
  CHECK(sups[1]["image"] == "reg.example/team/app");
  auto again = json::parse(f.call("GET", "/v1/images/" + a + "/report").body);
  bool said = false;
  for (auto& x : again["findings"])
    if (x["rule_id"] == root_rule) {
      CHECK_FALSE(x["suppressed"].get<bool>());
      said |= x.value("suppression_expired", "") == yesterday.substr(0, 10);
    }
  CHECK(said);
  CHECK(again["score"] == report["score"]);
  body["suppressions"][1]["expires"] = next_year.substr(0, 10);
  REQUIRE(f.call("PUT", "/v1/suppressions", body.dump()).status == 200);
  auto now_suppressed = json::parse(f.call("GET", "/v1/images/" + a + "/report").body);
  CHECK(now_suppressed["score"].get<int>() > report["score"].get<int>());
  CHECK(now_suppressed["suppressed_until"] == next_year.substr(0, 10));
  // Expiry passing while the daemon runs drops the reports so that they are rebuilt.
  auto expired = f.reporter.expire_suppressions(
      std::chrono::system_clock::now(),
      std::chrono::system_clock::now() + std::chrono::hours(24 * 400));
  REQUIRE(expired);
  CHECK(*expired);
  CHECK_FALSE(*f.reporter.expire_suppressions(std::chrono::system_clock::now(),
                                              std::chrono::system_clock::now()));
  CHECK(f.call("PUT", "/v1/suppressions",
               R"({"suppressions":[{"rule_id":"BW-SHELL","image":"Not A Ref"}]})")
            .status == 400);
  CHECK(f.call("PUT", "/v1/suppressions",
               R"({"suppressions":[{"rule_id":"BW-SHELL","expires":"next week"}]})")
            .status == 400);
}

TEST_CASE("PUT /v1/suppressions with If-Match: a stale version is refused, so no edit is lost") {
  Fixture f;
  auto etag_of_get = [&] {
    auto r = f.call("GET", "/v1/suppressions");
    for (auto& [k, v] : r.headers)
      if (k == "ETag") return v;
    FAIL("no ETag");
    return std::string();
  };
  auto put_if = [&](const std::string& if_match, const std::string& body) {
    ApiRequest req{"PUT", "/v1/suppressions", body, "t", "", {}, {}, {}};
    req.if_match = if_match;
    return f.send(req);
  };
  const std::string v0 = etag_of_get();
  // Two editors read v0. The first writes; the second, still at v0, is refused.
  auto first = put_if(v0, R"({"suppressions":[{"rule_id":"BW-SHELL","reason":"debug"}]})");
  CHECK(first.status == 200);
  auto second = put_if(v0, R"({"suppressions":[{"rule_id":"BW-SUID"}]})");
  CHECK(second.status == 412);
  CHECK(error_of(second)["code"] == "precondition_failed");
  auto list = json::parse(f.call("GET", "/v1/suppressions").body)["suppressions"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["rule_id"] == "BW-SHELL");
  // A bogus version is refused too; a weak one never matches (strong comparison).
  CHECK(put_if("\"0000\"", R"({"suppressions":[]})").status == 412);
  const std::string v1 = etag_of_get();
  CHECK(v1 != v0);
  CHECK(put_if("W/" + v1, R"({"suppressions":[]})").status == 412);
  // The current version, its gzip form, one of a list, or "*": accepted.
  std::string gz = v1;
  gz.insert(gz.size() - 1, "-gzip");
  CHECK(
      put_if("\"aaaa\", " + gz,
             R"({"suppressions":[{"rule_id":"BW-SHELL","reason":"debug"},{"rule_id":"BW-SUID"}]})")
          .status == 200);
  CHECK(put_if("*", R"({"suppressions":[{"rule_id":"BW-SUID"}]})").status == 200);
  // No If-Match: replaced unconditionally, as before.
  CHECK(f.call("PUT", "/v1/suppressions", R"({"suppressions":[]})").status == 200);
}

TEST_CASE("the web UI is served from the binary") {
  Fixture f;
  auto page = f.call("GET", "/");
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.find("<html") != std::string::npos);
  CHECK(header(page, "Content-Security-Policy").find("default-src 'self'") != std::string::npos);
  auto js = f.call("GET", "/ui/app.js");
  CHECK(js.status == 200);
  CHECK(js.content_type.starts_with("application/javascript"));
  CHECK(f.call("GET", "/ui/app.css").status == 200);
  CHECK(f.call("GET", "/ui/nope.js").status == 404);
  CHECK(f.call("GET", "/ui/..%2Fapi.h").status == 404);
  auto spec = f.call("GET", "/openapi.yaml");
  CHECK(spec.status == 200);
  CHECK(spec.body.starts_with("openapi: 3."));
}

TEST_CASE("every route served is in schema/openapi.yaml, and every route there is served") {
  // The document's paths are in block style: "  /path:" then "    method:" (redocly, run by
  // tests/run.sh, validates the document itself).
  std::string_view doc = schema_files::get("openapi.yaml");
  std::set<std::string> documented;
  std::string path;
  bool in_paths = false;
  std::size_t start = 0;
  while (start < doc.size()) {
    std::size_t end = doc.find('\n', start);
    if (end == std::string_view::npos) end = doc.size();
    std::string_view line = doc.substr(start, end - start);
    start = end + 1;
    if (!line.starts_with(' ')) in_paths = line == "paths:";
    if (!in_paths) continue;
    if (line.starts_with("  /") && line.ends_with(":"))
      path = std::string(line.substr(2, line.size() - 3));
    for (std::string_view m : {"get", "put", "post", "delete", "patch"})
      if (line == "    " + std::string(m) + ":") {
        std::string upper(m);
        for (auto& c : upper) c = static_cast<char>(std::toupper(c));
        documented.insert(upper + " " + path);
      }
  }
  auto served_list = api_routes();
  std::set<std::string> served(served_list.begin(), served_list.end());
  CHECK(served.size() == served_list.size());
  CHECK(documented.size() >= 20);
  for (auto& r : served) {
    CAPTURE(r);
    CHECK(documented.count(r) == 1);
  }
  for (auto& r : documented) {
    CAPTURE(r);
    CHECK(served.count(r) == 1);
  }
  // And each documented route answers something other than "no route" through route().
  Fixture f;
  for (auto& r : documented) {
    auto space = r.find(' ');
    std::string method = r.substr(0, space), target = r.substr(space + 1);
    for (auto [from, to] : {std::pair{"{digest}", "sha256:" + std::string(64, 'a')},
                            std::pair{"{id}", "scan_" + std::string(32, '0')},
                            std::pair{"{registry}", std::string("reg.example")},
                            std::pair{"{repository}", std::string("team/app")},
                            std::pair{"{file}", std::string("app.js")}})
      if (auto at = target.find(from); at != std::string::npos)
        target.replace(at, std::string_view(from).size(), to);
    if (method == "POST" || method == "PUT") continue;  // bodies: covered by their own cases
    auto res = f.call(method, target);
    CAPTURE(target);
    CHECK(res.status != 405);
    if (res.status == 404)
      CHECK(error_of(res)["message"].get<std::string>().find("no route") == std::string::npos);
  }
}

TEST_CASE("more parameter edges: dates, grades, sorts, waits, limits, suppression bodies") {
  Fixture f;
  for (const char* target :
       {"/v1/images?since=2026-01-31X", "/v1/images?since=2026/01/31", "/v1/images?grade=BB",
        "/v1/images?grade=a", "/v1/images?limit=0", "/v1/images?cursor=-1",
        "/v1/scans/scan_0123456789abcdef0123456789abcdef?wait=-1",
        "/v1/images?since=2026-01-31T10:00:00.000000000000000000000000Z",
        "/v1/repositories?limit=0", "/v1/repositories?cursor=x"}) {
    std::string t = target;
    CAPTURE(t);
    auto r = f.call("GET", target);
    CHECK(r.status == 400);
    CHECK(error_of(r)["code"] == "bad_request");
  }
  for (const char* sort : {"score", "last_scanned", "-last_scanned"})
    CHECK(f.call("GET", std::string("/v1/images?sort=") + sort).status == 200);
  CHECK(f.call("GET", "/v1/images?min_score=10&max_score=90&limit=500").status == 200);
  // Cursors are keyset positions handed out by the listing: anything else is refused.
  for (std::string cursor : {"0", "x,y", "2026-01-01T00:00:00Z,sha256:00"})
    CHECK(f.call("GET", "/v1/images?cursor=" + cursor).status == 400);
  CHECK(f.call("GET",
               "/v1/images?sort=score&cursor=50," + std::string("sha256:") + std::string(64, '0'))
            .status == 200);
  CHECK(f.call("GET", "/v1/scans?status=&cursor=scan_x").status == 200);
  for (const char* body : {"[]", "{}", R"({"suppressions": {}})", R"({"suppressions": [1]})",
                           R"({"suppressions": [{"path": "x"}]})"}) {
    std::string b = body;
    CAPTURE(b);
    auto r = f.call("PUT", "/v1/suppressions", body);
    CHECK(r.status == 400);
    CHECK(error_of(r)["code"] == "bad_request");
  }
  // A policy field sent as null is no policy.
  auto nulls = f.call("POST", "/v1/scans",
                      R"({"image": "127.0.0.1:5000/a", "fail_under": null, "fail_on": null,
                          "ignore": null, "platform": null, "wait": null})");
  CHECK(nulls.status == 202);
  auto fail_on = f.call("POST", "/v1/scans", R"({"image": "127.0.0.1:5000/a", "fail_on": 3})");
  CHECK(fail_on.status == 400);
  // Unknown static files and unknown methods on known paths.
  CHECK(f.call("GET", "/ui/no-such-file.js").status == 404);
  auto del = f.call("DELETE", "/v1/images");
  CHECK(del.status == 405);
  bool allows_head = false;
  for (auto& [k, v] : del.headers)
    if (k == "Allow") allows_head = v.find("HEAD") != std::string::npos;
  CHECK(allows_head);
  CHECK(f.call("POST", "/healthz").status == 405);
  // Scan ids of the wrong length or prefix are unknown without asking the store.
  for (const std::string& id : {std::string("scan_short"), std::string(37, 'x')}) {
    CAPTURE(id);
    CHECK(f.call("GET", "/v1/scans/" + id).status == 404);
    CHECK(f.call("DELETE", "/v1/scans/" + id).status == 404);
  }
}

TEST_CASE("with the store's tables gone, every route that reads it answers 500 JSON") {
  Fixture f;
  // A report and a scan first, so that routes reach the store rather than stopping early.
  std::string out;
  std::string drop;
  for (auto table :
       {"image_layers", "tags", "reports", "image_summaries", "daily_results", "fleet_days",
        "fleet_day_grades", "fleet_day_scores", "latest_results", "fleet_counts", "images",
        "layers", "scans", "suppressions", "reference_images", "schema_migrations"})
    drop += std::string("DROP TABLE IF EXISTS ") + table + ";";
  REQUIRE(test::run_command({"sqlite3", f.dir.path() + "/b.db", "PRAGMA foreign_keys=OFF;" + drop},
                            out) == 0);
  const std::string digest = "sha256:" + std::string(64, 'a');
  for (auto& call : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/scans"},
           {"GET", "/v1/scans/scan_0123456789abcdef0123456789abcdef"},
           {"DELETE", "/v1/scans/scan_0123456789abcdef0123456789abcdef"},
           {"GET", "/v1/images"},
           {"GET", "/v1/images/" + digest},
           {"GET", "/v1/images/" + digest + "/report"},
           {"GET", "/v1/images/" + digest + "/recommendations"},
           {"GET", "/v1/layers/" + digest},
           {"GET", "/v1/suppressions"},
           {"GET", "/v1/repositories"},
           {"GET", "/v1/repositories/reg.example/app/tags"},
           {"GET", "/v1/stats"},
           {"GET", "/v1/trends"},
           {"POST", "/v1/scans"}}) {
    const std::string &method = call.first, &target = call.second;
    CAPTURE(method);
    CAPTURE(target);
    auto r = f.call(method, target,
                    method == "POST" ? R"({"image": "127.0.0.1:5000/a:1"})" : std::string());
    CHECK(r.status >= 500);
    CHECK(error_of(r)["code"].is_string());
  }
  auto put = f.call("PUT", "/v1/suppressions", R"({"suppressions": [{"rule_id": "BW-SHELL"}]})");
  CHECK(put.status >= 500);
  auto ready = f.call("GET", "/readyz");
  CHECK(ready.status == 503);
}

TEST_CASE("listen addresses: names, IPv6 brackets, and what is refused") {
  Fixture f;
  auto local = HttpServer::bind(f.ioc.get_executor(), "localhost:0", f.ctx);
  REQUIRE(local);
  CHECK((*local)->local_endpoint().address().is_loopback());
  auto v6 = HttpServer::bind(f.ioc.get_executor(), "[::1]:0", f.ctx);
  REQUIRE(v6);
  CHECK((*v6)->local_endpoint().address().is_v6());
  for (const char* bad : {"example.com:80", "127.0.0.1:70000", "127.0.0.1", "127.0.0.1:http"}) {
    CAPTURE(bad);
    auto r = HttpServer::bind(f.ioc.get_executor(), bad, f.ctx);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_request);
  }
}

TEST_CASE("Accept-Encoding and If-None-Match as clients write them") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("deflate, x-gzip;q=0.5"));
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip("br, *;q=0.1"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
  CHECK_FALSE(accepts_gzip("br, identity"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK(if_none_match_matches("*", "\"abc\""));
  CHECK(if_none_match_matches("\"x\", W/\"abc\"", "\"abc\""));
  CHECK_FALSE(if_none_match_matches("\"x\",,", "\"abc\""));
}
