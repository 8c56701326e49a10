#include "scan/scheduler.h"

#include "common/log.h"
#include "common/time_util.h"
#include "store/on_store.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

RegistryScheduler::RegistryScheduler(asio::any_io_executor io, RegistryClient& registry,
                                     ScanService& scans, Store& store,
                                     std::vector<Schedule> schedules)
    : registry_(registry),
      scans_(scans),
      store_(store),
      schedules_(std::move(schedules)),
      status_(schedules_.size()),
      timer_(io) {
  for (std::size_t i = 0; i < schedules_.size(); ++i)
    status_[i] = {{"registry", schedules_[i].registry},
                  {"interval_minutes", schedules_[i].interval.count()},
                  {"runs", 0}};
}

void RegistryScheduler::stop() {
  stopped_ = true;
  timer_.cancel();
}

json RegistryScheduler::status() const {
  json out = json(status_);
  for (auto& s : out) s["leader"] = leader_;
  return out;
}

awaitable<void> RegistryScheduler::run() {
  // The leader renews its lease at every check; if it dies, another replica's next check after
  // the lease lapses takes over and runs whatever is due (everything, at first).
  constexpr std::chrono::seconds kLease{30};
  constexpr std::chrono::seconds kCheck{5};
  const std::string lease = "leader:scheduler";
  std::vector<std::chrono::steady_clock::time_point> due(schedules_.size(),
                                                         std::chrono::steady_clock::now());
  while (!stopped_ && !schedules_.empty()) {
    auto held = co_await on_store(scans_.store_pool(), [&] {
      return store_.acquire_lease(lease, scans_.replica_id(), kLease);
    });
    bool was = leader_;
    leader_ = held && *held;
    if (leader_ != was)
      log::info(leader_ ? "scheduler leadership taken" : "scheduler leadership lost",
                {{"replica", scans_.replica_id()}});
    auto now = std::chrono::steady_clock::now();
    if (leader_)
      for (std::size_t i = 0; i < schedules_.size() && !stopped_; ++i)
        if (due[i] <= now) {
          co_await run_once(i);
          due[i] = std::chrono::steady_clock::now() + schedules_[i].interval;
        }
    timer_.expires_at(std::min(*std::min_element(due.begin(), due.end()),
                               std::chrono::steady_clock::now() + kCheck));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (leader_)
    co_await on_store(scans_.store_pool(),
                      [&] { return store_.release_lease(lease, scans_.replica_id()); });
}

awaitable<void> RegistryScheduler::run_once(std::size_t index) {
  const Schedule& s = schedules_[index];
  json& st = status_[index];
  st["last_run"] = now_rfc3339();
  st["runs"] = st["runs"].get<int>() + 1;
  std::size_t queued = 0;
  json errors = json::array();
  std::vector<std::string> repos = s.repositories;
  if (repos.empty()) {
    auto listed = co_await registry_.list_repositories(s.registry);
    if (!listed) {
      errors.push_back("catalog: " + listed.error().message);
      st["errors"] = errors;
      st["scans_queued"] = 0;  // not the previous run's count
      log::warn("schedule=" + s.registry + " catalog failed: " + listed.error().message);
      co_return;
    }
    repos = *listed;
  }
  bool all_tags = s.tags.empty() || (s.tags.size() == 1 && s.tags[0] == "*");
  for (auto& repo : repos) {
    if (stopped_) break;
    auto ref = parse_reference(s.registry + "/" + repo);
    if (!ref) {
      errors.push_back(repo + ": " + ref.error().message);
      continue;
    }
    std::vector<std::string> tags = s.tags;
    if (all_tags) {
      auto listed = co_await registry_.list_tags(*ref);
      if (!listed) {
        errors.push_back(repo + ": " + listed.error().message);
        continue;
      }
      tags = *listed;
      std::sort(tags.begin(), tags.end());
      if (tags.size() > s.max_tags_per_repository) tags.resize(s.max_tags_per_repository);
    }
    for (auto& tag : tags) {
      std::string image = ref->registry + "/" + ref->repository + ":" + tag;
      if (co_await scans_.async_pending(image)) continue;
      auto r = co_await scans_.async_submit(ScanRequest{image, "", "", "schedule"});
      if (r)
        ++queued;
      else
        errors.push_back(image + ": " + r.error().message);
    }
  }
  st["scans_queued"] = queued;
  st["errors"] = errors;
  log::info("schedule=" + s.registry + " repositories=" + std::to_string(repos.size()) +
            " queued=" + std::to_string(queued));
}

}  // namespace bw
