// What an operator watches, through the real binary: /metrics by Prometheus' conventions
// (checked by promtool, Debian's prometheus package), JSON logs in which a request can be
// followed to the scan it created, and the configuration commands.
#include "daemon.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

TestImage small_image() {
  TestImage img{{make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("app/server", std::string(4096, 'x'), 0755)
                                .build())}};
  img.config = {{"User", "1000"}, {"Entrypoint", json::array({"/app/server"})}};
  return img;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    CAPTURE(line);
    CHECK(j.is_object());  // every line is one JSON object
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

TEST_CASE("/metrics follows Prometheus conventions and passes promtool check metrics") {
  LocalRegistry reg;
  Daemon d;
  push_image(reg.host(), "obs/app", "1", small_image());
  REQUIRE(d.scan(reg.host() + "/obs/app:1")["status"] == "done");
  // A scan that fails (no such tag) and an error served, so that every family has samples.
  REQUIRE(d.scan(reg.host() + "/obs/app:missing")["status"] == "failed");
  d.get_json("/v1/images/sha256:" + std::string(64, '0'), 404);
  std::string text = d.metrics_text();
  TempDir dir;
  std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << text;
  std::string out;
  int rc = run_command({"sh", "-c", "promtool check metrics < " + file}, out);
  INFO(out);
  CHECK(rc == 0);
  // Outcomes are labels; durations are histograms in seconds.
  CHECK(d.metric("bulwark_scans_finished_total{outcome=\"done\"}") == 1);
  CHECK(d.metric("bulwark_scans_finished_total{outcome=\"failed\"}") == 1);
  CHECK(d.metric("bulwark_registry_errors_total{registry=\"" + reg.host() +
                 "\",kind=\"manifest\",error=\"http_404\"}") >= 1);
  CHECK(d.metric("bulwark_scan_duration_seconds_count{outcome=\"done\"}") == 1);
  CHECK(d.metric_sum("bulwark_layer_analysis_duration_seconds_count", "status=\"complete\"") == 1);
  CHECK(d.metric("bulwark_registry_requests_total{registry=\"" + reg.host() +
                 "\",kind=\"manifest\"}") >= 1);
  CHECK(d.metric("bulwark_registry_requests_total{registry=\"" + reg.host() +
                 "\",kind=\"blob\"}") == 2);  // the config and the layer
  CHECK(d.metric_sum("bulwark_registry_request_duration_seconds_count", "kind=\"blob\"") == 2);
  CHECK(d.metric("bulwark_registry_bytes_total{registry=\"" + reg.host() + "\"}") > 0);
  CHECK(d.metric("bulwark_http_requests_total{method=\"GET\",route=\"/v1/images/{digest}\","
                 "code=\"404\"}") == 1);
  CHECK(d.metric_sum("bulwark_http_request_duration_seconds_count", "route=\"/v1/scans/{id}\"") >=
        1);
  CHECK(text.find("bulwark_build_info{version=\"") != std::string::npos);
  CHECK(d.metric("bulwark_scans_queued") == 0);
  CHECK(d.metric("bulwark_store_scans_queued") == 0);
  for (const char* process : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                              "process_open_fds", "process_max_fds", "process_start_time_seconds"})
    CHECK(text.find(std::string("\n") + process + " ") != std::string::npos);
  // No outcome or status class left in a metric's name.
  for (const char* old : {"scans_done_total", "scans_failed_total", "responses_4xx",
                          "responses_5xx", "webhook_failures_total"})
    CHECK(text.find(old) == std::string::npos);
}

TEST_CASE("JSON logs: one object per line; a request is followed to its scan and result") {
  LocalRegistry reg;
  // API auth on, with a token from the environment: the token must never reach the log.
  Daemon d(json{{"log_format", "json"},
                {"api",
                 {{"tokens", json::array({{{"name", "ci"},
                                           {"token_env", "OBS_TOKEN"},
                                           {"scopes", json::array({"read", "scan"})}}})}}}},
           "", {"OBS_TOKEN=tok-0bs3rv4bility-s3cret"});
  push_image(reg.host(), "obs/app", "2", small_image());
  std::string out;
  int rc = run_command({"curl", "-fsS", "-H", "X-Request-Id: ci-build-42", "-H",
                        "Authorization: Bearer tok-0bs3rv4bility-s3cret", "-X", "POST",
                        d.api().server() + "/v1/scans", "-d",
                        json{{"image", reg.host() + "/obs/app:2"}, {"wait", 60}}.dump()},
                       out);
  REQUIRE(rc == 0);
  json scan = json::parse(out);
  REQUIRE(scan["status"] == "done");
  // The request line is written once the answer is sent: curl may be back a moment before.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = d.log();
    bool seen = false;
    for (auto& l : json_lines(text))
      if (l.value("msg", "") == "request" && l.value("request_id", "") == "ci-build-42")
        seen = true;
    if (seen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto lines = json_lines(text);
  const json* queued = nullptr;
  const json* done = nullptr;
  const json* request = nullptr;
  for (auto& l : lines) {
    CHECK(l.contains("time"));
    CHECK(l.contains("level"));
    if (l.value("msg", "") == "scan queued" && l.value("scan", "") == scan["id"]) queued = &l;
    if (l.value("msg", "") == "scan done" && l.value("scan", "") == scan["id"]) done = &l;
    if (l.value("msg", "") == "request" && l.value("request_id", "") == "ci-build-42") request = &l;
  }
  REQUIRE(queued);
  CHECK((*queued)["request_id"] == "ci-build-42");
  REQUIRE(done);
  CHECK((*done)["request_id"] == "ci-build-42");
  // Typed values: numbers are numbers.
  CHECK((*done)["score"] == scan["score"].get<int>());
  CHECK((*done)["grade"] == scan["grade"]);
  CHECK((*done)["manifest_digest"] == scan["manifest_digest"]);
  REQUIRE((*done)["duration_s"].is_number());
  CHECK((*done)["duration_s"].get<double>() > 0);
  REQUIRE(request);
  CHECK((*request)["route"] == "/v1/scans");
  CHECK((*request)["status"] == 200);
  CHECK((*request)["bytes"].is_number());
  CHECK((*request)["duration_s"].is_number());
  CHECK((*request)["level"] == "info");
  // A refused token is logged as a 401, never echoed.
  run_command({"curl", "-s", "-H", "Authorization: Bearer wrong-t0ken-guess",
               d.api().server() + "/v1/stats"},
              out);
  std::string log = d.log();
  for (int i = 0; i < 100 && log.find("\"status\":401") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = d.log();
  }
  CHECK(log.find("tok-0bs3rv4bility-s3cret") == std::string::npos);
  CHECK(log.find("wrong-t0ken-guess") == std::string::npos);
  CHECK(log.find("\"status\":401") != std::string::npos);
  // A token in the query string is not written to the request log.
  run_command({"curl", "-s", d.api().server() + "/v1/stats?access_token=qu3ry-t0ken-s3cret&x=1"},
              out);
  for (int i = 0; i < 100 && log.find("access_token=REDACTED") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = d.log();
  }
  CHECK(log.find("access_token=REDACTED&x=1") != std::string::npos);
  CHECK(log.find("qu3ry-t0ken-s3cret") == std::string::npos);
  // A failed scan is a warning, with its error.
  REQUIRE(run_command({"curl", "-sS", "-H", "Authorization: Bearer tok-0bs3rv4bility-s3cret", "-X",
                       "POST", d.api().server() + "/v1/scans", "-d",
                       json{{"image", reg.host() + "/obs/missing:1"}, {"wait", 60}}.dump()},
                      out) == 0);
  json failed = json::parse(out);
  REQUIRE(failed["status"] == "failed");
  bool warned = false;
  for (int i = 0; i < 100 && !warned; ++i) {
    for (auto& l : json_lines(d.log()))
      if (l.value("msg", "") == "scan failed" && l.value("scan", "") == failed["id"])
        warned = l["level"] == "warn" && l.contains("error");
    if (!warned) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(warned);
}

TEST_CASE("JSON mode's banner on stdout is a JSON line too") {
  TempDir dir;
  unsigned short port = free_port();
  Process p({BULWARKD_PATH, "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
             dir.path(), "--log-format", "json"},
            dir.path() + "/out", dir.path() + "/err");
  json banner;
  for (int i = 0; i < 200 && !banner.is_object(); ++i) {
    std::string text = read_file(dir.path() + "/out");
    if (auto eol = text.find('\n'); eol != std::string::npos)
      banner = json::parse(text.substr(0, eol), nullptr, false);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(read_file(dir.path() + "/out"));
  REQUIRE(banner.is_object());
  CHECK(banner["msg"] == "listening");
  CHECK(banner["level"] == "info");
  CHECK(banner["url"] == "http://127.0.0.1:" + std::to_string(port));
  p.stop(SIGTERM);
}

TEST_CASE("bulwarkd config check and config print, through the binary") {
  TempDir dir;
  std::string bad = dir.path() + "/bad.json";
  std::ofstream(bad) << R"({"registries": {"alowed": ["reg.example"]}})";
  std::string out;
  CHECK(run_command({BULWARKD_PATH, "config", "check", bad}, out) == 2);
  CHECK(out.find("unknown key registries.alowed in " + bad +
                 " (did you mean registries.allowed?)") != std::string::npos);
  std::string good = dir.path() + "/good.json";
  std::ofstream(good) << R"({"registries": {"hosts": {"reg.example": {"password": "hunter2"}}}})";
  CHECK(run_command({BULWARKD_PATH, "config", "check", good}, out) == 0);
  CHECK(run_command({"env", "BULWARK_API_MAX_WAIT_S=12", BULWARKD_PATH, "config", "print",
                     "--config", good, "--allow-registry", "reg.corp:5000"},
                    out) == 0);
  json printed = json::parse(out);
  CHECK(printed["api"]["max_wait_s"] == 12);
  CHECK(printed["registries"]["hosts"]["reg.example"]["password"] == "***");
  CHECK(out.find("hunter2") == std::string::npos);
  auto allowed = printed["registries"]["allowed"];
  CHECK(std::find(allowed.begin(), allowed.end(), "reg.corp:5000") != allowed.end());
  // A daemon refuses to start on a mistake, naming it.
  CHECK(run_command({BULWARKD_PATH, "--config", bad}, out) == 2);
  CHECK(out.find("registries.alowed") != std::string::npos);
  // Three mistakes: all three named in one run.
  std::string three = dir.path() + "/three.json";
  std::ofstream(three) << R"({"registries": {"alowed": ["x"], "max_attempts": "five"},)"
                       << R"( "log_levl": "debug"})";
  CHECK(run_command({BULWARKD_PATH, "config", "check", three}, out) == 2);
  CHECK(out.find("3 mistakes") != std::string::npos);
  CHECK(out.find("registries.alowed") != std::string::npos);
  CHECK(out.find("registries.max_attempts") != std::string::npos);
  CHECK(out.find("log_levl") != std::string::npos);
  // A misspelt variable is refused with the one meant; another tool's BULWARK_* name is not.
  CHECK(run_command({"env", "BULWARK_LISTN=127.0.0.1:9", BULWARKD_PATH, "config", "print"}, out) ==
        2);
  CHECK(out.find("unknown environment variable BULWARK_LISTN (did you mean BULWARK_LISTEN?)") !=
        std::string::npos);
  CHECK(run_command({"env", "BULWARK_SOMETHING_ELSE_ENTIRELY=1", BULWARKD_PATH, "config", "print"},
                    out) == 0);
}
