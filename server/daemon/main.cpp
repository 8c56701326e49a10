// bulwarkd: the daemon. Wires config, store, registry client, scan service and HTTP server on
// one io_context thread, with CPU work on a worker pool, and stops gracefully on SIGINT/SIGTERM.
#include "api/http_server.h"
#include "common/log.h"
#include "common/time_util.h"
#include "config/config.h"
#include "score/base_snapshot.h"
#include "store/store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

namespace asio = boost::asio;

namespace {

// Threads for the store's calls: as many as the SQLite store has reader connections less the
// ones the workers' report builds use, so that a dashboard poll never queues behind another.
constexpr std::size_t kStoreThreads = 4;

bw::log::Level level_of(const std::string& s) {
  if (s == "debug") return bw::log::Level::debug;
  if (s == "warn") return bw::log::Level::warn;
  if (s == "error") return bw::log::Level::error;
  return bw::log::Level::info;
}

void log_exception(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    bw::log::error(std::string(what) + " failed: " + ex.what());
  }
}

// Descriptors bound how many connections and transfers run at once: take the hard limit the
// operator allows rather than the small default soft one.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// The largest snapshot read: the facts of a dozen bases are a few MB.
constexpr std::uintmax_t kMaxSnapshotBytes = 256u << 20;

bw::Result<std::vector<bw::SnapshotBase>> load_base_snapshot(bw::Store& store,
                                                             const bw::Config& config) {
  std::error_code ec;
  auto size = std::filesystem::file_size(config.base_snapshot_file, ec);
  if (ec) return bw::make_error(bw::Errc::bad_request, "cannot read it: " + ec.message());
  if (size > kMaxSnapshotBytes)
    return bw::make_error(bw::Errc::payload_too_large,
                          "larger than " + std::to_string(kMaxSnapshotBytes) + " bytes");
  std::ifstream in(config.base_snapshot_file, std::ios::binary);
  auto snapshot = nlohmann::json::parse(in, nullptr, false);
  if (snapshot.is_discarded()) return bw::make_error(bw::Errc::bad_request, "not JSON");
  auto imported = bw::import_base_snapshot(store, snapshot, config.base_references);
  if (!imported) return imported.error();
  for (auto& why : imported->skipped) bw::log::warn("snapshot base skipped: " + why);
  for (auto& b : imported->imported)
    bw::log::info("snapshot base " + b.id + " (" + b.manifest_digest + ", measured " +
                  b.measured_at + " from " + b.measured_from + ") known as " + b.reference);
  return std::move(imported->imported);
}

int run(bw::Config config) {
  bw::log::set_level(level_of(config.log_level));
  bw::log::set_format(config.log_format == "json" ? bw::log::Format::json : bw::log::Format::text);
  raise_descriptor_limit();
  if (!config.scan.analysis.secrets) config.scan.analysis.secrets = bw::SecretRules::builtin();
  auto store = bw::open_store(config.store, config.data_dir);
  if (!store) {
    bw::log::error("cannot open store: " + store.error().message);
    return 1;
  }
  asio::io_context ioc(1);
  std::size_t n_workers =
      config.workers ? config.workers : std::max(1u, std::thread::hardware_concurrency());
  asio::thread_pool workers(n_workers);
  // Every store call the io thread would make runs here and is awaited: SQLite's readers
  // read in parallel (WAL), its one writer serialises the writes, and a slow or locked
  // database holds these threads, never the one that serves /healthz.
  asio::thread_pool store_threads(kStoreThreads);
  bw::RegistryClient registry(ioc.get_executor(), config.registry);
  registry.set_cpu_pool(&workers);
  std::shared_ptr<const bw::RuleCatalog> rules = bw::RuleCatalog::builtin();
  if (!config.rules_file.empty()) {
    std::ifstream in(config.rules_file);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = bw::RuleCatalog::parse(text.str());
    if (!in || !parsed) {
      bw::log::error("cannot load rules " + config.rules_file + ": " +
                     (parsed ? "unreadable" : parsed.error().message));
      return 1;
    }
    rules = *parsed;
  }
  // Measurements made elsewhere, stored before anything reads the candidates.
  std::vector<bw::SnapshotBase> snapshot_bases;
  if (!config.base_snapshot_file.empty()) {
    auto loaded = load_base_snapshot(**store, config);
    if (!loaded) {
      bw::log::error("bases.snapshot " + config.base_snapshot_file + ": " + loaded.error().message);
      return 1;
    }
    snapshot_bases = std::move(*loaded);
  }
  bw::Reporter reporter(**store,
                        bw::ReportOptions{rules, config.suppressions, config.max_image_age_days,
                                          config.base_references, config.base_catalog});
  bw::ScanService scans(ioc.get_executor(), workers, **store, registry, config.scan, &reporter);
  scans.set_store_pool(&store_threads);
  bw::HttpMetrics http_metrics;
  bw::ApiContext ctx{scans, reporter, **store, registry, config, http_metrics};
  ctx.workers = &workers;
  ctx.store_pool = &store_threads;
  ctx.snapshot_bases = std::move(snapshot_bases);
  auto server = bw::HttpServer::bind(ioc.get_executor(), config.listen, ctx);
  if (!server) {
    bw::log::error(server.error().message);
    return 1;
  }
  if (auto r = scans.recover(); !r) {
    bw::log::error("cannot recover scans: " + r.error().message);
    return 1;
  }
  // The shared queue: scans queued through other replicas claimed when there is room, cancels
  // made through them noticed, leases of running scans renewed, and running scans whose
  // replica died queued again.
  asio::co_spawn(ioc, scans.keep_leases(),
                 [](std::exception_ptr e) { log_exception("scan leases", e); });
  // Waits on scans other replicas run answered as those scans end.
  asio::co_spawn(ioc, scans.follow_scan_ends(),
                 [](std::exception_ptr e) { log_exception("scan ends", e); });
  // A new ruleset (or build) re-scores every stored image from its facts, with no fetch, on a
  // worker: the API serves meanwhile (a report not reached yet is built when it is read), and
  // /readyz says "rescoring" until it is done.
  asio::post(workers, [&reporter, version = rules->version()] {
    auto n = reporter.rescore_all();
    if (!n)
      bw::log::warn("re-scoring stopped: " + n.error().message);
    else if (*n > 0)
      bw::log::info("rescored=" + std::to_string(*n) + " ruleset=" + version);
  });
  // A suppression stops suppressing after its expiry day: checked every ten minutes, and the
  // reports re-scored when one has expired since the last check. (A report read after an
  // expiry the daemon was down for is rebuilt when read: it names the day it is good until.)
  asio::steady_timer expiry(ioc);
  auto expiry_checked = std::chrono::system_clock::now();
  std::function<void()> check_expiry = [&] {
    expiry.expires_after(std::chrono::minutes(10));
    expiry.async_wait([&](const boost::system::error_code& ec) {
      if (ec || !ctx.ready) return;  // cancelled, or shutting down: the timer keeps no work
      auto now = std::chrono::system_clock::now();
      asio::post(workers, [&reporter, since = expiry_checked, now] {
        if (auto r = reporter.expire_suppressions(since, now); !r)
          bw::log::warn("suppression expiry: " + r.error().message);
        else if (*r)
          bw::log::info("a suppression expired; reports re-scored");
      });
      expiry_checked = now;
      check_expiry();
    });
  };
  check_expiry();
  // Reference images are scanned at start-up and on schedule, so base detection can match
  // other images' layer chains against what those tags point to now.
  asio::steady_timer rescan(ioc);
  std::function<void()> scan_references = [&] {
    // Replicas sharing a store scan the references once per period: the one that takes the
    // lease does, for a little less than the period; if it dies, another takes it next time.
    auto period =
        std::chrono::duration_cast<std::chrono::seconds>(config.reference_rescan_interval);
    auto hold =
        period.count() > 120 ? period - std::chrono::seconds(60) : std::chrono::seconds(3600);
    auto lead = (*store)->acquire_lease("leader:references", scans.replica_id(), hold);
    if (!config.scan.reference_images.empty() && lead && !*lead)
      bw::log::info("reference images are scanned by another replica");
    if (lead && *lead)
      for (auto& ref : config.scan.reference_images)
        if (auto r = scans.submit(bw::ScanRequest{ref, "", "", "reference-images"}); !r)
          bw::log::warn("reference image " + ref + " not scanned: " + r.error().message);
    if (config.reference_rescan_interval.count() <= 0 || config.scan.reference_images.empty())
      return;
    rescan.expires_after(config.reference_rescan_interval);
    rescan.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) scan_references();
    });
  };
  scan_references();
  bw::Webhooks webhooks(ioc.get_executor(), config.webhooks, config.registry.env, **store,
                        &store_threads, scans.replica_id());
  // Deliveries an earlier run left pending are sent again, also with no webhook configured now
  // (they are then listed as dead, with the reason).
  asio::co_spawn(ioc, webhooks.run(), [](std::exception_ptr e) { log_exception("webhooks", e); });
  if (!config.webhooks.empty())
    scans.on_finished([&](const bw::ScanRecord& rec) {
      nlohmann::json payload = {{"scan",
                                 {{"id", rec.id},
                                  {"status", scan_status_name(rec.status)},
                                  {"image", rec.image},
                                  {"platform", rec.platform},
                                  {"manifest_digest", rec.manifest_digest}}}};
      if (!rec.error_code.empty())
        payload["scan"]["error"] = {{"code", rec.error_code}, {"message", rec.error_message}};
      if (rec.status == bw::ScanStatus::done && !rec.manifest_digest.empty())
        if (auto report = reporter.get(rec.manifest_digest); report && *report) {
          payload["scan"]["score"] = (**report)["score"];
          payload["scan"]["grade"] = (**report)["grade"];
          payload["scan"]["report"] = "/v1/images/" + rec.manifest_digest + "/report";
        }
      webhooks.scan_finished(rec, std::move(payload));
    });
  bw::RegistryScheduler scheduler(ioc.get_executor(), registry, scans, **store, config.schedules);
  ctx.scheduler = &scheduler;
  ctx.webhooks = &webhooks;
  asio::co_spawn(ioc, scheduler.run(), [](std::exception_ptr e) { log_exception("scheduler", e); });
  auto ep = (*server)->local_endpoint();
  // Tests and scripts read this line to find the port when listening on port 0: "bulwarkd
  // listening on URL", or in JSON mode one JSON object with "msg":"listening" and "url".
  std::string url =
      std::string((*server)->tls() ? "https" : "http") + "://" +
      (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
      ":" + std::to_string(ep.port());
  if (config.log_format == "json")
    std::printf(
        "%s\n",
        nlohmann::json{
            {"time", bw::now_rfc3339()}, {"level", "info"}, {"msg", "listening"}, {"url", url}}
            .dump()
            .c_str());
  else
    std::printf("bulwarkd listening on %s\n", url.c_str());
  std::fflush(stdout);
  bw::log::info("started", {{"listening", config.listen},
                            {"data_dir", config.data_dir},
                            {"store", bw::store_description(config.store, config.data_dir)},
                            {"workers", n_workers},
                            {"version", std::string(bw::kVersion)}});

  asio::co_spawn(ioc, (*server)->run(),
                 [](std::exception_ptr e) { log_exception("accept loop", e); });

  // SIGHUP re-reads the TLS certificate and key (a renewed certificate needs no restart).
  asio::signal_set hangup(ioc, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (auto r = (*server)->reload_tls(); !r)
          bw::log::error("TLS reload failed; keeping the certificate in use",
                         {{"error", r.error().message}});
        else if ((*server)->tls())
          bw::log::info("TLS certificate reloaded", {{"cert_file", config.api.tls.cert_file}});
        hangup.async_wait(on_hangup);
      };
  hangup.async_wait(on_hangup);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  asio::steady_timer grace(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    bw::log::info("signal=" + std::to_string(sig) + " shutting down");
    ctx.ready = false;
    rescan.cancel();
    expiry.cancel();
    scheduler.stop();
    webhooks.stop();
    hangup.cancel();
    // Past the grace period, stop hard: unfinished scans resume at the next start.
    grace.expires_after(config.shutdown_grace);
    grace.async_wait([&](const boost::system::error_code& gec) {
      if (!gec) {
        bw::log::warn("shutdown grace period over; stopping now");
        ioc.stop();
      }
    });
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await scans.shutdown();
          co_await (*server)->stop();
          grace.cancel();
        },
        [](std::exception_ptr e) { log_exception("shutdown", e); });
  });

  ioc.run();
  scans.abort_transfers();
  // Store calls still on the pool finish before what they refer to goes away.
  store_threads.join();
  workers.join();
  bw::log::info("stopped");
  return 0;
}

// `bulwarkd config check FILE` and `bulwarkd config print [flags]`: what an operator runs
// before a deploy, with the same parser, environment and flags as the daemon.
int config_command(std::vector<std::string> args, const bw::EnvLookup& env) {
  if (args.size() >= 2 && args[1] == "check") {
    if (args.size() != 3) {
      std::cerr << "usage: bulwarkd config check FILE\n";
      return 2;
    }
    auto loaded = bw::load_config({"--config", args[2]}, env);
    if (!loaded) {
      std::cerr << "bulwarkd: " << loaded.error().message << "\n";
      return 2;
    }
    std::cout << args[2] << ": ok\n";
    return 0;
  }
  if (args.size() >= 2 && args[1] == "print") {
    auto loaded = bw::load_config(std::vector<std::string>(args.begin() + 2, args.end()), env);
    if (!loaded) {
      std::cerr << "bulwarkd: " << loaded.error().message << "\n";
      return 2;
    }
    std::cout << bw::config_to_json(loaded->config, true).dump(2) << "\n";
    return 0;
  }
  std::cerr << "usage: bulwarkd config check FILE | bulwarkd config print [flags]\n";
  return 2;
}

// `bulwarkd migrate-store --from sqlite:PATH --to postgresql://…`: moving from one machine to
// replicas keeps every report, scan and layer already analysed.
int migrate_store_command(const std::vector<std::string>& args) {
  std::string from, to;
  for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--from") from = args[i + 1];
    if (args[i] == "--to") to = args[i + 1];
  }
  if (!from.starts_with("sqlite:") ||
      !(to.starts_with("postgresql://") || to.starts_with("postgres://"))) {
    std::cerr << "usage: bulwarkd migrate-store --from sqlite:PATH --to postgresql://…\n";
    return 2;
  }
  auto copied = bw::copy_sqlite_to_postgres(from.substr(7), to);
  if (!copied) {
    std::cerr << "bulwarkd: " << copied.error().message << "\n";
    return 1;
  }
  for (auto& [table, rows] : *copied) std::cout << table << ": " << rows << " rows\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto env = [](const char* name) -> const char* { return std::getenv(name); };
  {
    // A misspelt BULWARK_* variable would otherwise be ignored without a word.
    std::vector<std::string> names;
    for (char** e = environ; e && *e; ++e) {
      std::string_view entry(*e);
      names.emplace_back(entry.substr(0, entry.find('=')));
    }
    if (auto r = bw::check_environment_names(names); !r) {
      std::cerr << "bulwarkd: " << r.error().message << "\n";
      return 2;
    }
  }
  if (!args.empty() && args[0] == "config") return config_command(args, env);
  if (!args.empty() && args[0] == "migrate-store") return migrate_store_command(args);
  auto loaded = bw::load_config(args, env);
  if (!loaded) {
    std::cerr << "bulwarkd: " << loaded.error().message << "\n";
    return 2;
  }
  if (loaded->show_help) {
    std::cout << bw::usage_text();
    return 0;
  }
  if (loaded->show_version) {
    std::cout << "bulwarkd " << bw::kVersion << "\n";
    return 0;
  }
  try {
    return run(loaded->config);
  } catch (const std::exception& e) {
    std::cerr << "bulwarkd: " << e.what() << "\n";
    return 1;
  }
}
