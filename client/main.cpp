// bulwark: the CLI that CI pipelines call. Talks to bulwarkd over its REST API.
//
// Exit codes: 0 scan done (and passed its policy); 1 the image fails --fail-under/--fail-on;
// 2 usage or request refused; 3 scan failed or cancelled; 4 server unreachable or timed out.
#include "api_client.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using bw::cli::ApiClient;
using nlohmann::json;

constexpr int kExitPolicy = 1;
constexpr int kExitUsage = 2;
constexpr int kExitScanFailed = 3;
constexpr int kExitUnavailable = 4;

void usage() {
  std::cerr
      << "usage: bulwark [--server URL] COMMAND ...\n"
         "\n"
         "commands:\n"
         "  scan IMAGE [--platform OS/ARCH[/VARIANT]] [--timeout SECONDS] [--json] [--no-wait]\n"
         "             [--fail-under SCORE] [--fail-on SEVERITY] [--ignore RULE_ID]...\n"
         "      submit a scan and wait for it (default timeout 600 s); exit 1 when the image\n"
         "      scores under SCORE or has a finding at or above SEVERITY (info..critical)\n"
         "  report DIGEST             print an image's report (JSON)\n"
         "  status SCAN_ID [--json]   show a scan\n"
         "  image DIGEST              print the stored image record (JSON)\n"
         "  layer DIGEST              print a layer's facts (JSON)\n"
         "  health                    check that the server answers\n"
         "\n"
         "--server defaults to $BULWARK_SERVER or http://127.0.0.1:8080; an API token is read\n"
         "from $BULWARK_TOKEN\n";
}

void print_api_error(const bw::cli::Reply& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error"))
    std::cerr << "bulwark: " << j["error"].value("code", "error") << ": "
              << j["error"].value("message", "") << "\n";
  else
    std::cerr << "bulwark: HTTP " << r.status << "\n";
}

void print_scan(const json& s) {
  std::cout << "scan      " << s.value("id", "") << "\n"
            << "image     " << s.value("image", "") << " (" << s.value("platform", "") << ")\n"
            << "status    " << s.value("status", "") << "\n";
  if (s.contains("manifest_digest"))
    std::cout << "digest    " << s["manifest_digest"].get<std::string>() << "\n";
  if (s.contains("progress") && s["progress"].contains("layers")) {
    for (auto& l : s["progress"]["layers"])
      std::cout << "  layer " << l.value("digest", "").substr(0, 19) << "  " << l.value("state", "")
                << "  " << l.value("bytes_done", 0) << "/" << l.value("bytes_total", 0)
                << " bytes\n";
  }
  if (s.contains("error"))
    std::cout << "error     " << s["error"].value("code", "") << ": "
              << s["error"].value("message", "") << "\n";
  if (s.contains("score"))
    std::cout << "score     " << s["score"].get<int>() << " (" << s["grade"].get<std::string>()
              << ")  " << s.value("report", "") << "\n";
  if (s.contains("verdict")) {
    std::cout << "verdict   " << s["verdict"].get<std::string>() << "\n";
    for (auto& r : s["reasons"]) std::cout << "  " << r.get<std::string>() << "\n";
  }
}

// The report's live findings, one a line, and the top recommendation.
void print_findings(const ApiClient& api, const json& scan) {
  if (!scan.contains("report")) return;
  auto r = api.call("GET", scan["report"].get<std::string>());
  if (!r || r->status != 200) return;
  json report = json::parse(r->body, nullptr, false);
  if (!report.is_object()) return;
  std::cout << "base      " << report["base"].value("name", "") << " ("
            << report["base"].value("method", "") << ")\n";
  for (auto& f : report["findings"]) {
    if (f.value("suppressed", false)) continue;
    const json& ev = f["evidence"];
    std::string where = ev.value("path", "");
    if (where.empty() && ev.contains("history_index"))
      where = "history[" + std::to_string(ev["history_index"].get<int>()) + "]";
    if (where.empty()) where = ev.value("config_key", "");
    std::cout << "  " << f.value("severity", "") << "\t" << f.value("rule_id", "") << "\t"
              << f.value("origin", "") << "\t" << where << "\n";
  }
  if (!report["recommendations"].empty()) {
    const json& top = report["recommendations"][0];
    std::cout << "advice    " << top.value("action", "") << " " << top.value("base", "")
              << ": projected " << top.value("projected_score", 0) << " ("
              << top.value("projected_grade", "") << "), " << top.value("reason", "") << "\n";
  }
}

int exit_for(const json& scan) {
  std::string status = scan.value("status", "");
  if (status == "done") return scan.value("verdict", "pass") == "fail" ? kExitPolicy : 0;
  if (status == "failed" || status == "cancelled") return kExitScanFailed;
  return kExitUnavailable;  // still running when we gave up
}

int cmd_scan(const ApiClient& api, const std::vector<std::string>& args) {
  std::string image, platform;
  long timeout = 600;
  bool as_json = false, wait = true;
  json policy = json::object();
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--platform" && i + 1 < args.size())
      platform = args[++i];
    else if (args[i] == "--fail-under" && i + 1 < args.size())
      policy["fail_under"] = std::strtol(args[++i].c_str(), nullptr, 10);
    else if (args[i] == "--fail-on" && i + 1 < args.size())
      policy["fail_on"] = args[++i];
    else if (args[i] == "--ignore" && i + 1 < args.size())
      policy["ignore"].push_back(args[++i]);
    else if (args[i] == "--timeout" && i + 1 < args.size())
      timeout = std::strtol(args[++i].c_str(), nullptr, 10);
    else if (args[i] == "--json")
      as_json = true;
    else if (args[i] == "--no-wait")
      wait = false;
    else if (image.empty() && !args[i].starts_with("-"))
      image = args[i];
    else {
      usage();
      return kExitUsage;
    }
  }
  if (image.empty()) {
    usage();
    return kExitUsage;
  }
  json req = {{"image", image}};
  if (!platform.empty()) req["platform"] = platform;
  for (auto& [k, v] : policy.items()) req[k] = v;
  auto r = api.call("POST", "/v1/scans", req.dump());
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return kExitUnavailable;
  }
  if (r->status >= 400) {
    print_api_error(*r);
    return r->status >= 500 ? kExitUnavailable : kExitUsage;
  }
  json scan = json::parse(r->body, nullptr, false);
  std::string id = scan.value("id", "");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  while (wait && exit_for(scan) == kExitUnavailable &&
         std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline -
                                                                 std::chrono::steady_clock::now());
    auto step = std::min<long>(30, std::max<long>(1, left.count()));
    auto g = api.call("GET", "/v1/scans/" + id + "?wait=" + std::to_string(step), {},
                      std::chrono::seconds(step));
    if (!g) {
      std::cerr << "bulwark: " << g.error().message << "\n";
      return kExitUnavailable;
    }
    if (g->status != 200) {
      print_api_error(*g);
      return kExitUnavailable;
    }
    scan = json::parse(g->body, nullptr, false);
  }
  if (as_json) {
    std::cout << scan.dump(2) << "\n";
  } else {
    print_scan(scan);
    print_findings(api, scan);
  }
  if (!wait) return 0;
  return exit_for(scan);
}

int cmd_get(const ApiClient& api, const std::string& path, bool raw_json) {
  auto r = api.call("GET", path);
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return kExitUnavailable;
  }
  if (r->status != 200) {
    print_api_error(*r);
    return kExitUsage;
  }
  auto j = json::parse(r->body, nullptr, false);
  if (raw_json || j.is_discarded())
    std::cout << (j.is_discarded() ? r->body : j.dump(2)) << "\n";
  else
    print_scan(j);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_server = std::getenv("BULWARK_SERVER");
  std::string server = env_server ? env_server : "http://127.0.0.1:8080";
  if (args.size() >= 2 && args[0] == "--server") {
    server = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    usage();
    return args.empty() ? kExitUsage : 0;
  }
  // The token comes from the environment only: command lines are visible to other users.
  const char* token = std::getenv("BULWARK_TOKEN");
  auto api = ApiClient::create(server, token ? token : "");
  if (!api) {
    std::cerr << "bulwark: " << api.error().message << "\n";
    return kExitUsage;
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "scan") return cmd_scan(*api, rest);
  bool json_flag = rest.size() > 1 && rest[1] == "--json";
  if (cmd == "status" && !rest.empty()) return cmd_get(*api, "/v1/scans/" + rest[0], json_flag);
  if (cmd == "image" && !rest.empty()) return cmd_get(*api, "/v1/images/" + rest[0], true);
  if (cmd == "layer" && !rest.empty()) return cmd_get(*api, "/v1/layers/" + rest[0], true);
  if (cmd == "report" && !rest.empty())
    return cmd_get(*api, "/v1/images/" + rest[0] + "/report", true);
  if (cmd == "health") return cmd_get(*api, "/healthz", true);
  usage();
  return kExitUsage;
}
