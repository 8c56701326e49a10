// The daemon where things around it fail: a store it cannot open, a port already taken, a
// webhook endpoint that errors or never answers. Each ends in a clear message and an exit code,
// or in retries that are counted and logged.
#include "daemon.h"
#include "fault_server.h"
#include "process.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <sstream>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

// Runs bulwarkd with `args` to its exit; returns the exit code and the output.
int bulwarkd_exits(const std::vector<std::string>& args, std::string& out) {
  std::vector<std::string> argv{BULWARKD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, out, std::chrono::seconds(60));
}

// Another process holding SQLite's write lock (BEGIN EXCLUSIVE) on `db` from construction until
// release() or destruction: the store's writes wait their busy timeout, then fail.
class SqliteWriteLock {
 public:
  explicit SqliteWriteLock(const std::string& db)
      : proc_({"/usr/bin/python3", "-c",
               "import os, sqlite3, sys, time\n"
               "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
               "c.execute('BEGIN EXCLUSIVE')\n"
               "print('locked', flush=True)\n"
               "for _ in range(1200):\n"
               "    if os.path.exists(sys.argv[2]): break\n"
               "    time.sleep(0.05)\n"
               "c.execute('ROLLBACK')\n",
               db, dir_.path() + "/release"},
              dir_.path() + "/out", dir_.path() + "/err") {
    REQUIRE(eventually(
        [&] { return read_file(dir_.path() + "/out").find("locked") != std::string::npos; },
        std::chrono::seconds(10)));
  }
  ~SqliteWriteLock() { release(); }
  void release() { write_file(dir_.path() + "/release", ""); }

 private:
  TempDir dir_;
  Process proc_;
};

}  // namespace

TEST_CASE("bulwarkd refuses to start on a store it cannot open, and says which") {
  TempDir dir;
  std::string out;
  // The data directory is a file: the SQLite store cannot be made there.
  write_file(dir.path() + "/not-a-dir", "x");
  CHECK(bulwarkd_exits({"--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/not-a-dir"}, out) ==
        1);
  CHECK(out.find("cannot open store") != std::string::npos);

  // A store URL of a kind it does not know.
  CHECK(bulwarkd_exits({"--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/d", "--store",
                        "mysql://bulwark@127.0.0.1/bulwark"},
                       out) != 0);
  CHECK(out.find("mysql://") != std::string::npos);

  // A PostgreSQL nobody answers for: the error names the server, never the password.
  RefusingPort closed;
  CHECK(bulwarkd_exits(
            {"--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/d", "--store",
             "postgresql://bulwark:hunter2@" + closed.host() + "/bulwark?connect_timeout=5"},
            out) == 1);
  CHECK(out.find("cannot open store") != std::string::npos);
  CHECK(out.find("hunter2") == std::string::npos);
}

TEST_CASE("bulwarkd refuses to start on a listen address already taken") {
  // A socket of this test's own, listening, holds the port.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  TempDir dir;
  std::string out;
  int rc = bulwarkd_exits({"--listen", listen, "--data-dir", dir.path() + "/d"}, out);
  ::close(fd);
  CHECK(rc == 1);
  CHECK(out.find(listen) != std::string::npos);
}

TEST_CASE("webhooks: a failing endpoint is retried with backoff, then counted as failed") {
  LocalRegistry reg;
  push_image(reg.host(), "hooked/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  // The first endpoint fails twice, then takes deliveries; the second always answers 503 and
  // only wants failures.
  std::atomic<int> seen{0};
  FaultServer flaky([&](const SeenRequest&) {
    return ++seen <= 2 ? Reply{500, {}, "busy"} : Reply{204, {}, ""};
  });
  FaultServer broken([](const SeenRequest&) { return Reply{503, {}, "down"}; });
  Daemon d(json{{"webhooks",
                 {{{"url", "http://" + flaky.host() + "/hook"}},
                  {{"url", "http://" + broken.host() + "/hook"},
                   {"events", json::array({"scan.failed"})}}}}});
  json done = d.scan(reg.host() + "/hooked/app:1");
  REQUIRE(done["status"] == "done");
  // Delivered on the third attempt (after 400 ms and 800 ms).
  CHECK(eventually(
      [&] { return d.metric(R"(bulwark_webhook_notifications_total{outcome="delivered"})") == 1; },
      std::chrono::seconds(20)));
  CHECK(flaky.requests().size() == 3);
  CHECK(broken.requests().empty());  // it wants scan.failed only
  CHECK(d.log().find("level=warn webhook=http://" + flaky.host() + " attempt 1 failed: HTTP 500") !=
        std::string::npos);

  json failed = d.scan(reg.host() + "/hooked/app:missing");
  REQUIRE(failed["status"] == "failed");
  // Five attempts over about 12 s, then given up and counted.
  CHECK(eventually(
      [&] { return d.metric(R"(bulwark_webhook_notifications_total{outcome="failed"})") == 1; },
      std::chrono::seconds(40)));
  CHECK(broken.requests().size() == 5);
  for (auto& r : broken.requests()) CHECK(json::parse(r.body)["event"] == "scan.failed");
  CHECK(eventually([&] { return flaky.requests().size() == 4; }, std::chrono::seconds(10)));
  // Counted once the receiver's answer is read, which can be after the receiver has the body.
  CHECK(eventually(
      [&] { return d.metric(R"(bulwark_webhook_notifications_total{outcome="delivered"})") == 2; },
      std::chrono::seconds(20)));
  CHECK(d.log().find("attempt 5 failed: HTTP 503") != std::string::npos);
  // Given up on, and listed as such.
  json dead = d.get_json("/v1/webhooks/deliveries?state=dead");
  REQUIRE(dead["deliveries"].size() == 1);
  CHECK(dead["deliveries"][0]["attempts"] == 5);
  CHECK(dead["deliveries"][0]["event"] == "scan.failed");
  CHECK(dead["deliveries"][0]["last_error"] == "HTTP 503");
}

TEST_CASE("webhooks: a delivery failing three times survives kill -9 and is delivered once") {
  LocalRegistry reg;
  push_image(reg.host(), "hooked/crash", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  // Fails until the daemon is killed, then takes deliveries.
  std::atomic<bool> up{false};
  std::atomic<int> ok{0};
  FaultServer hook([&](const SeenRequest&) {
    if (!up) return Reply{500, {}, "busy"};
    ++ok;
    return Reply{204, {}, ""};
  });
  json config = {{"webhooks", {{{"url", "http://" + hook.host() + "/hook"}}}}};
  TempDir data;
  const std::string data_dir = data.path();
  {
    Daemon d(config, data_dir);
    json done = d.scan(reg.host() + "/hooked/crash:1");
    REQUIRE(done["status"] == "done");
    // Three attempts (after 400 and 800 ms), then the fourth is 1.6 s away: kill it there.
    json pending;
    REQUIRE(eventually(
        [&] {
          pending = d.get_json("/v1/webhooks/deliveries?state=pending");
          return pending["deliveries"].size() == 1 && pending["deliveries"][0]["attempts"] == 3;
        },
        std::chrono::seconds(20)));
    CHECK(pending["deliveries"][0]["last_error"] == "HTTP 500");
    CHECK(pending["deliveries"][0]["payload"]["scan"]["id"] == done["id"]);
    d.kill();
  }
  // Three failed attempts, or a fourth if it came before the kill landed.
  const std::size_t before = hook.requests().size();
  CHECK(before >= 3);
  up = true;
  Daemon again(config, data_dir);
  CHECK(eventually([&] { return ok == 1; }, std::chrono::seconds(20)));
  // Nothing more arrives: exactly one delivery of the one event.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(ok == 1);
  CHECK(hook.requests().size() == before + 1);
  json listed = again.get_json("/v1/webhooks/deliveries");
  REQUIRE(listed["deliveries"].size() == 1);
  CHECK(listed["deliveries"][0]["state"] == "delivered");
  CHECK(listed["deliveries"][0]["attempts"] == before + 1);
  CHECK(again.get_json("/v1/webhooks/deliveries?state=dead")["deliveries"].empty());
  CHECK(again.get_json("/v1/webhooks/deliveries?state=lost", 400)["error"]["code"] ==
        "bad_request");
}

TEST_CASE("a store row damaged by hand answers 500 JSON, logged as an error; the daemon stays up") {
  LocalRegistry reg;
  push_image(reg.host(), "damaged/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  Daemon d;
  json s = d.scan(reg.host() + "/damaged/app:1");
  REQUIRE(s["status"] == "done");
  std::string digest = s["manifest_digest"];
  // Facts of the wrong shape (valid JSON, wrong types), and no report to answer from.
  std::string out;
  // The daemon may be writing (a scan's last state): wait for its lock as it would.
  REQUIRE(run_command({"sqlite3", "-cmd", ".timeout 10000", d.data_dir() + "/bulwark.db",
                       "UPDATE layers SET facts = '{\"files\":\"x\",\"packages\":7,"
                       "\"package_dbs\":{\"a\":1}}'; DELETE FROM reports;"},
                      out) == 0);
  auto r = d.api().call("GET", "/v1/images/" + digest + "/report");
  REQUIRE(r);
  CHECK(r->status == 500);
  json err = json::parse(r->body);
  CHECK(err["error"]["code"] == "internal");
  // Logged as an error with what the caller was told, under the request's id (the line is
  // written once the answer is sent: waited for).
  std::string log;
  auto line = std::string::npos;
  REQUIRE(eventually(
      [&] {
        log = d.log();
        line = log.find("level=error request ");
        return line != std::string::npos;
      },
      std::chrono::seconds(10)));
  std::string text = log.substr(line, log.find('\n', line) - line);
  CHECK(text.find("status=500") != std::string::npos);
  CHECK(text.find("request_id=") != std::string::npos);
  CHECK_MESSAGE(text.find(" error=") != std::string::npos, text);
  CHECK(d.get_json("/healthz")["status"] == "ok");
  CHECK(d.get_json("/v1/stats")["images"] == 1);
}

TEST_CASE("schedules: an unreachable catalog, a missing repository and a bad name are reported") {
  LocalRegistry reg;
  push_image(reg.host(), "team/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  RefusingPort dead;
  Daemon d(json{{"schedules",
                 json::array({{{"registry", dead.host()}, {"interval_minutes", 600}},
                              {{"registry", reg.host()},
                               {"repositories", json::array({"team/app", "team/gone", "Bad Name"})},
                               {"interval_minutes", 600}}})}});
  json st;
  bool ran = eventually(
      [&] {
        st = d.get_json("/v1/schedules")["schedules"];
        // A run counts at its start; its errors and count are written at its end.
        return st.size() == 2 && st[0].contains("scans_queued") && st[1].contains("scans_queued");
      },
      std::chrono::seconds(30));
  REQUIRE(ran);
  // The dead registry: its catalog could not be listed, and nothing was queued.
  REQUIRE(st[0]["errors"].size() == 1);
  CHECK(st[0]["errors"][0].get<std::string>().starts_with("catalog: "));
  CHECK(st[0]["scans_queued"] == 0);
  // The live one: the real repository's tag queued, the others named with their errors.
  CHECK(st[1]["scans_queued"] == 1);
  std::string errors = st[1]["errors"].dump();
  CHECK(errors.find("team/gone") != std::string::npos);
  CHECK(errors.find("Bad Name") != std::string::npos);
}

TEST_CASE("a store that refuses writes for a while: the scan's end is kept, served, then saved") {
  // The layer drips for ~2 s; meanwhile another process holds SQLite's write lock, longer than
  // the store's 5 s busy timeout, until the test lets it go: the scan's writes fail meanwhile.
  std::string noise = incompressible(1000, 2463534242u);
  TestImage img{{make_layer(TarBuilder().file("app/blob", noise).build())}};
  BuiltImage built = build_image(img);
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == img.layers[0].blob ? 2 : 0);
    });
  });
  Daemon d;
  auto r = d.api().call("POST", "/v1/scans", json{{"image", reg.host() + "/slow/app:1"}}.dump());
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string id = json::parse(r->body)["id"];
  SqliteWriteLock lock(d.data_dir() + "/bulwark.db");
  // While the lock stands: the layer's write times out, the scan fails, and its end, which the
  // store refuses too, is kept and served from memory.
  json s;
  bool ended = eventually(
      [&] {
        s = d.get_json("/v1/scans/" + id);
        return s["status"] == "failed";
      },
      std::chrono::seconds(40));
  REQUIRE_MESSAGE(ended, s.dump() << "\n" << d.log());
  CHECK(s["error"]["message"].get<std::string>().find("locked") != std::string::npos);
  // The store's threads write it and log the refusal once their busy timeout runs out.
  CHECK(eventually(
      [&] {
        return d.log().find("scan=" + id + " cannot be saved (kept, retried)") != std::string::npos;
      },
      std::chrono::seconds(30)));
  // Once the lock goes, it is written; a restarted daemon reads it. It ran once.
  lock.release();
  REQUIRE(eventually(
      [&] {
        return d.log().find("scan=" + id + " saved after a store failure") != std::string::npos;
      },
      std::chrono::seconds(40)));
  std::string log = d.log();
  std::size_t ends = 0;
  for (auto& word : {"scan done scan=" + id, "scan failed scan=" + id})
    for (auto at = log.find(word); at != std::string::npos; at = log.find(word, at + 1)) ++ends;
  CHECK(ends == 1);
  CHECK(log.find("scan recovered scan=" + id) == std::string::npos);
  d.stop();
  Daemon again(json::object(), d.data_dir());
  json stored = again.get_json("/v1/scans/" + id);
  CHECK(stored["status"] == s["status"]);
  CHECK(again.get_json("/readyz")["status"] == "ready");
}

TEST_CASE("a store another process has locked: /healthz and /metrics answer, the write waits") {
  // Another process takes SQLite's write lock and holds it until the test lets go. A scan
  // submitted meanwhile waits on one of the store's threads for the lock; the io thread keeps
  // answering probes and scrapes, and /metrics sees the submission in flight beside itself.
  Daemon d;
  SqliteWriteLock lock(d.data_dir() + "/bulwark.db");
  auto submitted = std::async(std::launch::async, [&] {
    return d.api().call("POST", "/v1/scans", json{{"image", "127.0.0.1:9/none/app:1"}}.dump());
  });
  bool seen_in_flight = eventually(
      [&] {
        return d.metric("bulwark_http_requests_in_flight") >= 2 &&
               submitted.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
      },
      std::chrono::seconds(30));
  CHECK(seen_in_flight);
  auto health = d.api().call("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  lock.release();
  auto answered = submitted.get();
  REQUIRE(answered);
  // Within the store's busy timeout the scan is queued; past it, a JSON error: never a hang.
  CHECK((answered->status == 202 || answered->status >= 500));
  CHECK(json::parse(answered->body).is_object());
  CHECK(d.get_json("/readyz")["status"] == "ready");
}

TEST_CASE("bulwarkd's command line: help, version, and usage errors exit 2 with the usage") {
  std::string out;
  CHECK(bulwarkd_exits({"--help"}, out) == 0);
  CHECK(out.find("usage: bulwarkd") != std::string::npos);
  CHECK(bulwarkd_exits({"--version"}, out) == 0);
  CHECK(out.starts_with("bulwarkd "));
  CHECK(bulwarkd_exits({"config"}, out) == 2);
  CHECK(out.find("usage: bulwarkd config check FILE | bulwarkd config print") != std::string::npos);
  CHECK(bulwarkd_exits({"config", "check"}, out) == 2);
  CHECK(out.find("usage: bulwarkd config check FILE") != std::string::npos);
  CHECK(bulwarkd_exits({"config", "print", "--log-level", "loud"}, out) == 2);
  CHECK(out.find("bulwarkd: ") != std::string::npos);
  CHECK(bulwarkd_exits({"migrate-store", "--from", "sqlite:/tmp/x.db"}, out) == 2);
  CHECK(out.find("usage: bulwarkd migrate-store") != std::string::npos);
  CHECK(bulwarkd_exits({"--listen", "nowhere"}, out) != 0);
  CHECK(out.find("listen must be HOST:PORT") != std::string::npos);
}

TEST_CASE("bulwarkd's store migration and config subcommands refuse what they cannot do") {
  std::string out;
  CHECK(bulwarkd_exits({"migrate-store", "--from", "mysql://x", "--to", "postgresql://y"}, out) ==
        2);
  CHECK(out.find("usage: bulwarkd migrate-store") != std::string::npos);
  CHECK(bulwarkd_exits({"migrate-store", "--from", "sqlite:/tmp/x.db", "--to", "mysql://y"}, out) ==
        2);
  CHECK(out.find("usage: bulwarkd migrate-store") != std::string::npos);
  CHECK(bulwarkd_exits({"config", "show"}, out) == 2);
  CHECK(out.find("usage: bulwarkd config") != std::string::npos);
  // The short scheme is accepted; nothing listens on port 1, so the copy fails, saying so.
  TempDir dir;
  CHECK(bulwarkd_exits({"migrate-store", "--from", "sqlite:" + dir.path() + "/none.db", "--to",
                        "postgres://bulwark:secret@127.0.0.1:1/bulwark"},
                       out) == 1);
  CHECK(out.find("bulwarkd: ") != std::string::npos);
  CHECK(out.find("secret") == std::string::npos);
}

TEST_CASE("start-up variants: IPv6 loopback, quieter log levels, workers by core, rescan off") {
  // Listening on [::1] (the harness's --listen is overridden by the later one), at warn: the
  // info lines are gone, the warning for a refused reference image is there. Workers 0 means
  // one per core; a rescan period of 0 scans the references once, at start.
  json refused = {{"registries", {{"allowed", json::array({"only.example"})}}},
                  {"reference_images", json::array({"127.0.0.1:1/library/debian:12"})},
                  {"reference_rescan_hours", 0},
                  {"workers", 0}};
  {
    Daemon d(refused, "", {}, {"--listen", "[::1]:0", "--log-level", "warn"});
    CHECK(d.get_json("/healthz")["status"] == "ok");
    CHECK(
        eventually([&] { return d.log().find("level=warn reference image") != std::string::npos; },
                   std::chrono::seconds(30)));
    CHECK(d.log().find("level=info") == std::string::npos);
    CHECK(d.log().find("level=debug") == std::string::npos);
  }
  // At error even that warning is left out; a long rescan period (2 h) is kept by a lease a
  // minute shorter than it.
  refused["reference_rescan_hours"] = 2;
  Daemon quiet(refused, "", {}, {"--log-level", "error", "--workers", "2"});
  CHECK(quiet.get_json("/healthz")["status"] == "ok");
  auto r = quiet.api().call("GET", "/v1/nothing-here");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(quiet.log().find("level=warn") == std::string::npos);
  CHECK(quiet.log().find("level=info") == std::string::npos);
}

TEST_CASE("a reference image that cannot be scanned is a warning, not a failed start") {
  // Named by the configuration, refused by its own allow list.
  Daemon d(json{{"registries", {{"allowed", json::array({"only.example"})}}},
                {"reference_images", json::array({"127.0.0.1:1/library/debian:12"})}});
  CHECK(eventually(
      [&] {
        return d.log().find(
                   "level=warn reference image 127.0.0.1:1/library/debian:12 not "
                   "scanned") != std::string::npos;
      },
      std::chrono::seconds(30)));
  CHECK(d.get_json("/healthz")["status"] == "ok");
}

TEST_CASE(
    "DELETE of a queued scan cancels it at once and tells the webhooks; a running one stops") {
  // One scan at a time; the first drips its layer (~10 s) so that the second waits in the queue.
  std::string noise = incompressible(1000, 88172645u);
  TestImage img{{make_layer(TarBuilder().file("app/blob", noise).build())}};
  BuiltImage built = build_image(img);
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == img.layers[0].blob ? 10 : 0);
    });
  });
  FaultServer hook([](const SeenRequest&) { return Reply{204, {}, ""}; });
  Daemon d(json{{"scans", {{"max_concurrent", 1}}},
                {"webhooks", {{{"url", "http://" + hook.host() + "/hook"}}}}});
  auto submit = [&] {
    auto r = d.api().call("POST", "/v1/scans", json{{"image", reg.host() + "/slow/app:1"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
    return json::parse(r->body)["id"].get<std::string>();
  };
  std::string running = submit(), queued = submit();
  REQUIRE(eventually([&] { return d.get_json("/v1/scans/" + running)["status"] == "running"; },
                     std::chrono::seconds(10)));
  CHECK(d.get_json("/v1/scans/" + queued)["status"] == "queued");
  // The queue's depth is read on the store's threads, every second and after each claim.
  CHECK(
      eventually([&] { return d.metric("bulwark_scans_queued") == 1; }, std::chrono::seconds(10)));

  auto r = d.api().call("DELETE", "/v1/scans/" + queued);
  REQUIRE(r);
  CHECK(r->status == 200);
  json cancelled = json::parse(r->body);
  CHECK(cancelled["status"] == "cancelled");
  CHECK(cancelled["error"]["code"] == "cancelled");
  CHECK(
      eventually([&] { return d.metric("bulwark_scans_queued") == 0; }, std::chrono::seconds(10)));
  CHECK(eventually(
      [&] {
        for (auto& req : hook.requests()) {
          json body = json::parse(req.body);
          if (body["event"] == "scan.cancelled" && body["scan"]["id"] == queued) return true;
        }
        return false;
      },
      std::chrono::seconds(10)));
  // Cancelling it again changes nothing; the running one stops within about a second.
  auto again = d.api().call("DELETE", "/v1/scans/" + queued);
  REQUIRE(again);
  CHECK(json::parse(again->body)["status"] == "cancelled");
  REQUIRE(d.api().call("DELETE", "/v1/scans/" + running));
  CHECK(eventually([&] { return d.get_json("/v1/scans/" + running)["status"] == "cancelled"; },
                   std::chrono::seconds(5)));
  CHECK(d.metric(R"(bulwark_scans_finished_total{outcome="cancelled"})") == 2);
  auto unknown = d.api().call("DELETE", "/v1/scans/scan_" + std::string(32, '0'));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
}

TEST_CASE("a layer that decompresses to another diff_id than its config says fails the scan") {
  LocalRegistry reg;
  TestLayer layer = make_layer(TarBuilder().file("app/x", "x").build());
  layer.diff_id = "sha256:" + std::string(64, 'd');  // the config lies about the layer
  TestImage img{{layer}};
  push_image(reg.host(), "lying/app", "1", img);
  Daemon d;
  json s = d.scan(reg.host() + "/lying/app:1");
  CHECK(s["status"] == "failed");
  CHECK(s["error"]["code"] == "digest_mismatch");
  CHECK(s["error"]["message"].get<std::string>().find("but the image config says sha256:ddd") !=
        std::string::npos);
  CHECK(d.get_json("/v1/stats")["images"] == 0);  // no image row from a lying config
}

TEST_CASE("platform \"all\": one platform failing fails the whole, naming it; the others finish") {
  TestImage amd({make_layer(TarBuilder().file("app/amd", "a", 0755).build())});
  amd.config = {{"User", "1000"}};
  TestImage arm({make_layer(TarBuilder().file("app/arm", "r", 0755).build())});
  arm.architecture = "arm64";
  arm.config = {{"User", "1000"}};
  BuiltImage amd_built = build_image(amd), arm_built = build_image(arm);
  std::string index = index_document({{amd_built, amd}, {arm_built, arm}}, false);
  // The registry lost the arm64 layer's blob.
  FaultServer reg([&](const SeenRequest& req) -> Reply {
    if (req.target == "/v2/") return Reply{200, {}, "{}"};
    if (req.target.ends_with("/manifests/1"))
      return Reply{200, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}, index};
    for (auto* b : {&amd_built, &arm_built})
      if (req.target.ends_with("/manifests/" + sha256(b->manifest)))
        return Reply{200, {{"Content-Type", b->media_type}}, b->manifest};
    if (req.target.ends_with(arm.layers[0].digest())) return Reply{404, {}, R"({"errors":[]})"};
    for (auto* b : {&amd_built, &arm_built})
      for (auto& blob : b->blobs)
        if (req.target.ends_with(sha256(blob))) return Reply{200, {}, blob};
    return Reply{404, {}, "{}"};
  });
  Daemon d;
  json s = d.scan(reg.host() + "/multi/app:1", "all");
  CHECK(s["status"] == "failed");
  CHECK(s["error"]["message"].get<std::string>().find("platform scans failed: linux/arm64") !=
        std::string::npos);
  REQUIRE(s["progress"]["children"].size() == 2);
  std::map<std::string, std::string> by_platform;
  for (auto& id : s["progress"]["children"]) {
    json child = d.get_json("/v1/scans/" + id.get<std::string>());
    by_platform[child["platform"]] = child["status"];
  }
  CHECK(by_platform["linux/amd64"] == "done");
  CHECK(by_platform["linux/arm64"] == "failed");
}

TEST_CASE("shutdown: a long poll on a running scan is answered, not waited out; the scan resumes") {
  // A scan dripping its layer, and a client long-polling it for 60 s: at SIGTERM the transfer
  // stops at once and the poll is answered, well inside the 5 s grace period (the daemon does
  // not have to stop hard). The scan was never finished: the next start runs it again.
  std::string noise = incompressible(600, 3141592u);
  TestImage img{{make_layer(TarBuilder().file("app/blob", noise).build())}};
  BuiltImage built = build_image(img);
  std::atomic<bool> drip{true};
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == img.layers[0].blob && drip ? 10 : 0);
    });
  });
  TempDir data;
  json config = {{"shutdown_grace_s", 5}};
  std::string id;
  {
    Daemon d(config, data.path());
    auto r = d.api().call("POST", "/v1/scans", json{{"image", reg.host() + "/slow/app:1"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
    id = json::parse(r->body)["id"];
    REQUIRE(eventually([&] { return d.get_json("/v1/scans/" + id)["status"] == "running"; },
                       std::chrono::seconds(10)));
    const bw::cli::ApiClient& client = d.api();
    auto poll = std::async(std::launch::async, [&client, id] {
      return client.call("GET", "/v1/scans/" + id + "?wait=60");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the poll is in the daemon
    CHECK(d.stop() == 0);
    CHECK(d.log().find("grace period over") == std::string::npos);
    CHECK(d.log().find("level=info stopped") != std::string::npos);
    auto answered = poll.get();
    if (answered) CHECK(answered->status == 200);
  }
  drip = false;
  Daemon again(config, data.path());
  CHECK(eventually([&] { return again.get_json("/v1/scans/" + id)["status"] == "done"; },
                   std::chrono::seconds(30)));
}

TEST_CASE("bulwarkd raises its soft descriptor limit to the hard one") {
  // Started with a soft limit of 256 (inherited from this process for the moment), the daemon
  // takes what the hard limit allows, so that many connections and transfers fit.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  if (saved.rlim_max <= 256) return;  // nothing to raise to
  rlimit low = saved;
  low.rlim_cur = 256;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::unique_ptr<Daemon> d;
  try {
    d = std::make_unique<Daemon>();
  } catch (...) {
    setrlimit(RLIMIT_NOFILE, &saved);
    throw;
  }
  setrlimit(RLIMIT_NOFILE, &saved);
  std::string limits = read_file("/proc/" + std::to_string(d->pid()) + "/limits");
  auto line = limits.substr(limits.find("Max open files"));
  line = line.substr(0, line.find('\n'));
  CAPTURE(line);
  // "Max open files  SOFT  HARD  files": the soft limit is now the hard one.
  std::istringstream words(line.substr(14));
  std::string soft, hard;
  words >> soft >> hard;
  CHECK(soft == hard);
  CHECK(soft != "256");
}
