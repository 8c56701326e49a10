// Scheduled rescans of whole registries: on start-up and then every interval, list the
// repositories (the catalog, or a configured list) and their tags, and queue a scan for each
// reference that has moved since its last scan. A tag that still names the digest it was
// scanned at costs one HEAD request and a touch of its summary; layers already analysed are
// never fetched again.
//
// Thread-safety: runs on the io_context's single thread, as the ScanService.
#pragma once

#include "registry/registry.h"
#include "scan/scan.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bw {

struct Schedule {
  std::string registry;                   // "registry.corp:5000"
  std::vector<std::string> repositories;  // empty: every repository of the catalog
  std::vector<std::string> tags;          // tags to scan; "*" or empty: every tag
  std::size_t max_tags_per_repository = 20;
  std::chrono::minutes interval{24 * 60};
};

class RegistryScheduler {
 public:
  // Among replicas sharing `store`, only the one holding the "leader:scheduler" lease runs the
  // schedules; the others check every few seconds and take over when the leader's lease lapses.
  RegistryScheduler(boost::asio::any_io_executor io, RegistryClient& registry, ScanService& scans,
                    Store& store, std::vector<Schedule> schedules);

  // Whether this replica ran the schedules at its last check.
  bool leader() const { return leader_; }

  // Runs every schedule now and then on its interval, until stop().
  boost::asio::awaitable<void> run();
  void stop();

  // Per schedule: last run time, scans queued, errors.
  nlohmann::json status() const;

 private:
  struct Pass;
  boost::asio::awaitable<void> run_once(std::size_t index);
  // Takes the pass's next repository until none is left: lists its tags, and queues a scan of
  // each tag that is not pending and has moved since its last scan.
  boost::asio::awaitable<void> visit(Pass& pass);

  RegistryClient& registry_;
  ScanService& scans_;
  Store& store_;
  bool leader_ = false;
  std::vector<Schedule> schedules_;
  std::vector<nlohmann::json> status_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace bw
