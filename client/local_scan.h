// A scan run in this process with the daemon's engine (sources, analysis, rules, report), for
// CI jobs with no daemon. Layer facts are cached in a SQLite store under `cache_dir`, so a base
// layer is analysed once per machine, as the daemon does per fleet.
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace bw::cli {

struct LocalScan {
  nlohmann::json scan;    // as GET /v1/scans/{id} would answer
  nlohmann::json report;  // as GET /v1/images/{digest}/report; null when the scan failed
  nlohmann::json image;   // as GET /v1/images/{digest}; null when the scan failed
  nlohmann::json rules;   // as GET /v1/rules
  // With platform "all": each platform's scan and report (the parent's report is null; the
  // rules are the parent's).
  std::vector<LocalScan> children;
};

// `token_realms` ("host:port") may receive any registry's credentials (RegistryOptions).
// `image` is a reference or a local source ("oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
// "docker-archive:FILE"); credentials come from docker's and podman's files as for the daemon.
// `on_progress`, when set, is called every 50 ms with the scan's progress
// ({"layers": [{"digest","bytes_done","bytes_total","state"}]}).
Result<LocalScan> run_local_scan(
    const std::string& image, const std::string& platform, const nlohmann::json& policy,
    std::chrono::seconds timeout, const std::string& cache_dir,
    const std::function<void(const nlohmann::json& progress)>& on_progress = {},
    const std::vector<std::string>& token_realms = {});

// $XDG_CACHE_HOME/bulwark, else ~/.cache/bulwark.
std::string default_cache_dir();

}  // namespace bw::cli
