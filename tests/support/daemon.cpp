#include "daemon.h"

#include <signal.h>

#include <algorithm>

#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef BULWARKD_PATH
#error "BULWARKD_PATH must name the bulwarkd binary"
#endif

namespace bw::test {

Daemon::Daemon(const nlohmann::json& config, std::string data_dir,
               const std::vector<std::string>& env, const std::vector<std::string>& args)
    : data_dir_(data_dir.empty() ? dir_.path() + "/data" : std::move(data_dir)) {
  std::string cfg = dir_.path() + "/config.json";
  write_file(cfg, config.dump(2));
  std::string out = dir_.path() + "/stdout";
  // Tests talk to loopback only: a proxy from the machine's environment must not capture that
  // traffic unless a test sets one.
  std::vector<std::string> full_env;
  for (const char* var :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"}) {
    std::string prefix = std::string(var) + "=";
    if (std::none_of(env.begin(), env.end(), [&](auto& e) { return e.starts_with(prefix); }))
      full_env.push_back(prefix);
  }
  full_env.insert(full_env.end(), env.begin(), env.end());
  std::vector<std::string> argv{BULWARKD_PATH, "--listen", "127.0.0.1:0", "--data-dir", data_dir_,
                                "--config",    cfg,        "--log-level", "debug"};
  argv.insert(argv.end(), args.begin(), args.end());
  proc_ = std::make_unique<Process>(argv, out, dir_.path() + "/stderr", full_env);
  // The daemon prints "bulwarkd listening on http://127.0.0.1:PORT" once it accepts.
  for (int i = 0; i < 600; ++i) {
    std::string text = read_file(out);
    auto pos = text.find("listening on ");
    auto eol = text.find('\n', pos);
    std::string url = pos != std::string::npos && eol != std::string::npos
                          ? text.substr(pos + 13, eol - pos - 13)
                          : "";
    // In JSON mode the banner is one JSON object: {"msg":"listening","url":…}.
    if (auto j = nlohmann::json::parse(text.substr(0, text.find('\n')), nullptr, false);
        j.is_object() && j.value("msg", "") == "listening")
      url = j.value("url", "");
    if (!url.empty()) {
      auto client = cli::ApiClient::create(url);
      if (!client) throw std::runtime_error(client.error().message);
      api_ = std::make_unique<cli::ApiClient>(*client);
      return;
    }
    if (!proc_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("bulwarkd did not start:\n" + log());
}

Daemon::~Daemon() {
  stop();
}

int Daemon::stop() {
  if (!proc_) return -1;
  int st = proc_->stop(SIGTERM, std::chrono::seconds(30));
  proc_.reset();
  return st;
}

void Daemon::kill() {
  if (!proc_) return;
  proc_->stop(SIGKILL, std::chrono::seconds(10));
  proc_.reset();
}

pid_t Daemon::pid() const {
  return proc_ ? proc_->pid() : -1;
}

nlohmann::json Daemon::get_json(const std::string& target, int expect_status) {
  auto r = api_->call("GET", target);
  if (!r) throw std::runtime_error(r.error().message);
  if (r->status != expect_status)
    throw std::runtime_error("GET " + target + " answered " + std::to_string(r->status) + ": " +
                             r->body);
  return nlohmann::json::parse(r->body);
}

nlohmann::json Daemon::scan(const std::string& image, const std::string& platform) {
  nlohmann::json req = {{"image", image}};
  if (!platform.empty()) req["platform"] = platform;
  auto r = api_->call("POST", "/v1/scans", req.dump());
  if (!r) throw std::runtime_error(r.error().message);
  if (r->status != 202 && r->status != 200)
    throw std::runtime_error("POST /v1/scans answered " + std::to_string(r->status) + ": " +
                             r->body);
  auto scan = nlohmann::json::parse(r->body);
  for (int i = 0; i < 20; ++i) {
    std::string status = scan.value("status", "");
    if (status == "done" || status == "failed" || status == "cancelled") return scan;
    scan = get_json("/v1/scans/" + scan["id"].get<std::string>() + "?wait=10");
  }
  throw std::runtime_error("scan did not finish: " + scan.dump());
}

std::string Daemon::metrics_text() {
  auto r = api_->call("GET", "/metrics");
  if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
  return r->body;
}

std::uint64_t Daemon::metric(const std::string& name) {
  std::istringstream in(metrics_text());
  std::string family = name.substr(0, name.find('{'));
  bool typed = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + " ")) return std::stoull(line.substr(name.size() + 1));
    if (line.starts_with("# TYPE " + family + " ")) typed = true;
  }
  if (typed) return 0;
  throw std::runtime_error("no metric " + name);
}

std::uint64_t Daemon::metric_sum(const std::string& family, const std::string& label) {
  std::istringstream in(metrics_text());
  std::uint64_t sum = 0;
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(family + "{") && line.find(label) != std::string::npos)
      sum += std::stoull(line.substr(line.rfind(' ') + 1));
  return sum;
}

}  // namespace bw::test
