#include "local_scan.h"

#include "analyze/secrets.h"
#include "api/views.h"
#include "common/log.h"
#include "scan/scan.h"
#include "score/reporter.h"
#include "store/store.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdlib>
#include <thread>

namespace bw::cli {

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/bulwark";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/bulwark";
  return ".bulwark-cache";
}

Result<LocalScan> run_local_scan(
    const std::string& image, const std::string& platform, const nlohmann::json& policy,
    std::chrono::seconds timeout, const std::string& cache_dir,
    const std::function<void(const nlohmann::json& progress)>& on_progress,
    const std::vector<std::string>& token_realms) {
  log::set_level(log::Level::warn);  // the report is the output; the engine's chatter is not
  auto store = open_sqlite_store({cache_dir + "/bulwark.db"});
  if (!store) return store.error();
  boost::asio::io_context ioc(1);
  boost::asio::thread_pool workers(std::max(1u, std::thread::hardware_concurrency()));
  // On one's own machine any registry may be named, loopback included; the user's docker and
  // podman credentials apply.
  RegistryOptions registry_options;
  registry_options.allowed = {"*"};
  registry_options.token_realms = token_realms;
  RegistryClient registry(ioc.get_executor(), registry_options);
  Reporter reporter(**store, ReportOptions{});
  ScanOptions options;
  options.allow_local_sources = true;
  options.analysis.secrets = SecretRules::builtin();
  ScanService scans(ioc.get_executor(), workers, **store, registry, options, &reporter);

  auto submitted =
      scans.submit(ScanRequest{image, platform, policy.empty() ? "" : policy.dump(), "cli"});
  if (!submitted) {
    workers.join();
    return submitted.error();
  }
  const std::string id = submitted->id;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(std::chrono::milliseconds(50));
    auto now = scans.get(id);
    if (now && *now && is_finished((*now)->status)) break;
    if (on_progress && now && *now)
      on_progress(nlohmann::json::parse((*now)->progress.empty() ? "{}" : (*now)->progress, nullptr,
                                        false));
  }
  LocalScan out;
  auto rec = scans.get(id);
  if (!rec || !*rec) {
    workers.join();
    return make_error(Errc::internal, "the scan was lost");
  }
  if (!is_finished((*rec)->status)) {
    scans.abort_transfers();
    ioc.stop();
    workers.join();
    return make_error(Errc::timeout,
                      "the scan did not finish within " + std::to_string(timeout.count()) + " s");
  }
  // What the API would answer of one scan: the scan, and its report and image when it is done.
  auto view = [&](const ScanRecord& r) {
    LocalScan v;
    v.scan = scan_view(r);
    auto result = nlohmann::json::parse(r.result.empty() ? "{}" : r.result, nullptr, false);
    if (result.is_object())
      for (auto& [k, x] : result.items()) v.scan[k] = x;
    if (r.status == ScanStatus::done && !r.manifest_digest.empty()) {
      if (auto report = reporter.get(r.manifest_digest); report && *report) {
        v.report = **report;
        if (auto im = (*store)->get_image(r.manifest_digest); im && *im)
          if (auto image = image_view(**im, **store, v.report["base"].value("layers", 0u)))
            v.image = *image;
      }
    }
    return v;
  };
  out = view(**rec);
  out.rules = to_json(reporter.rules());  // once: the children share the catalog
  // A multi-platform scan: every child, in the order they were queued.
  auto progress =
      nlohmann::json::parse((*rec)->progress.empty() ? "{}" : (*rec)->progress, nullptr, false);
  if (progress.is_object())
    for (auto& id : progress.value("children", nlohmann::json::array()))
      if (auto child = scans.get(id.get<std::string>()); child && *child)
        out.children.push_back(view(**child));
  workers.join();
  return out;
}

}  // namespace bw::cli
