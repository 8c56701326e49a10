// Runs the real bulwarkd binary for integration tests: a temporary data directory, an optional
// JSON config, port 0, and a client pointed at it.
#pragma once

#include "api_client.h"
#include "process.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace bw::test {

class Daemon {
 public:
  // `config` is written to a file and passed with --config. `data_dir` empty: a fresh one.
  // `env` adds "NAME=value" entries to the daemon's environment.
  // `args` are further command-line arguments.
  explicit Daemon(const nlohmann::json& config = nlohmann::json::object(),
                  std::string data_dir = "", const std::vector<std::string>& env = {},
                  const std::vector<std::string>& args = {});
  ~Daemon();

  const cli::ApiClient& api() const { return *api_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const { return read_file(dir_.path() + "/stderr"); }
  // SIGTERM, and the exit status.
  int stop();
  // SIGKILL, as a crash would end it; the data directory stays for a restart.
  void kill();
  pid_t pid() const;

  // POST /v1/scans then long-poll until the scan finishes; returns the final scan.
  nlohmann::json scan(const std::string& image, const std::string& platform = "");
  nlohmann::json get_json(const std::string& target, int expect_status = 200);
  // The value of one series in /metrics, named as rendered ("name" or `name{k="v",…}`); 0 when
  // the family is there without that series yet.
  std::uint64_t metric(const std::string& name);
  // The sum of a family's series whose labels contain `label` (e.g. `kind="blob"`).
  std::uint64_t metric_sum(const std::string& family, const std::string& label);
  // GET /metrics, as text.
  std::string metrics_text();

 private:
  TempDir dir_;
  std::string data_dir_;
  std::unique_ptr<Process> proc_;
  std::unique_ptr<cli::ApiClient> api_;
};

}  // namespace bw::test
