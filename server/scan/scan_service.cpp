#include "common/digest.h"
#include "common/log.h"
#include "common/time_util.h"
#include "rules/history.h"
#include "scan/chunk_pipe.h"
#include "scan/scan.h"
#include "score/policy.h"
#include "score/reporter.h"
#include "store/on_store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

// A replica fetching a layer holds its lease this long, renewing it as bytes arrive; one that
// dies mid-layer frees it for the others after this.
constexpr std::chrono::seconds kLayerLease{60};
constexpr std::chrono::seconds kLayerLeaseRenewal{20};
// How long a scan waits for another replica's analysis of a layer before giving up.
constexpr std::chrono::hours kRemoteLayerWait{1};
// A replica holds the lease of each scan it has queued or running, renewing it every
// kScanLeaseRenewal; another adopts the scan once the lease lapses.
constexpr std::chrono::seconds kScanLease{30};
// How often a wait reads a scan run elsewhere from the store: at first, and at most.
constexpr std::chrono::milliseconds kRemoteWaitPollMin{100};
constexpr std::chrono::milliseconds kRemoteWaitPollMax{1000};
constexpr std::chrono::seconds kScanLeaseRenewal{10};
// How often an idle replica looks for scans queued through the others, and a busy one for its
// scans cancelled through them.
constexpr std::chrono::seconds kQueuePoll{1};
// A scan's resolved manifest and layer list are written once it has run this long: most
// scans (rescans, small images) end sooner and write only their end, a commit fewer each.
constexpr std::chrono::milliseconds kProgressDelay{250};
// Configs past this size hand their memory back to the system after the report is built.
constexpr std::size_t kTrimAfterConfigBytes = 1 << 20;

std::string scan_lease(const std::string& id) {
  return "scan:" + id;
}

std::vector<std::string> layer_digests(const Manifest& m) {
  std::vector<std::string> out;
  for (auto& d : m.layers) out.push_back(d.digest);
  return out;
}

std::string new_scan_id() {
  return "scan_" + random_hex(16);
}

// Whether stored facts are as the analysers in use would produce them now: the same facts
// format, and no analyser newer than the one that ran (layers stored before versions were
// kept ran version 1 of each).
bool current(const LayerMeta& stored, const AnalyzeOptions& analysis) {
  if (stored.analyzer_version != kAnalyzerVersion) return false;
  for (auto* a : analyzers_in_use(analysis)) {
    auto it = stored.analyzer_versions.find(std::string(a->name()));
    int had = stored.analyzer_versions.empty()       ? 1
              : it == stored.analyzer_versions.end() ? 0
                                                     : it->second;
    if (had < a->version()) return false;
  }
  return true;
}

// Slots reserved for a claim in flight (ScanService::claim_reserved_), given back however the
// claim ends.
class SlotReservation {
 public:
  SlotReservation(std::size_t& reserved, std::size_t n) : reserved_(reserved), n_(n) {
    reserved_ += n_;
  }
  ~SlotReservation() { reserved_ -= n_; }
  SlotReservation(const SlotReservation&) = delete;
  SlotReservation& operator=(const SlotReservation&) = delete;

 private:
  std::size_t& reserved_;
  std::size_t n_;
};

bool is_foreign(const Descriptor& d) {
  return !d.urls.empty() || d.media_type.find("foreign") != std::string::npos ||
         d.media_type.find("nondistributable") != std::string::npos;
}

}  // namespace

bool is_scan_id(std::string_view text) {
  if (text.size() != 37 || !text.starts_with("scan_")) return false;
  return std::all_of(text.begin() + 5, text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

struct LayerProgress {
  std::string digest;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  std::string state =
      "pending";  // pending | fetching | waiting | cached | analyzed | skipped | failed
};

struct ScanService::Live {
  ScanRecord rec;
  SourceSpec spec;
  std::unique_ptr<ImageSource> source;  // opened when the scan runs
  ImageRef ref;                         // spec.ref: empty for local sources
  Platform platform;
  std::optional<ResolvedImage> image;
  std::vector<LayerProgress> layers;
  bool cancel_requested = false;
  // Cancelled (not expired) when the scan is cancelled or the server stops: a layer transfer
  // waiting on the network ends then, not at its next chunk or the I/O timeout.
  std::shared_ptr<asio::steady_timer> stop;
  std::string request_id;
  std::chrono::steady_clock::time_point started;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  bool all_platforms = false;         // platform "all": one child scan per platform
  std::vector<std::string> children;  // their ids
  // Facts of the layers this scan analysed, and of those its first look read, by digest: the
  // report is built from them.
  std::map<std::string, SharedLayerRecord> facts;
  // The report's context as the first look read it (a new image's), and the layer lease it took
  // with it: used by ensure_layer() while fresh, released by run() if the scan never got there.
  std::optional<ReportContext> context;
  struct FirstLease {
    std::size_t index = 0;
    std::string digest;
    LayerLease lease;
    std::chrono::steady_clock::time_point taken;
  };
  std::optional<FirstLease> first_lease;
  // layer_jobs_ended() when the first look was asked.
  std::uint64_t jobs_ended_at_look = 0;
  // What the scan found, written with its end (end_with_findings()), and whether it was.
  std::optional<ScannedImage> found;
  bool end_stored = false;
  // Queued scans claimed with the end (ClaimNext), started once it is over, and how many the
  // claim could take (0: no claim with the end).
  std::vector<ScanRecord> claimed_next;
  std::size_t claim_limit = 0;
  // Held by the end's claim until run() starts what it claimed (ScanService::free_slots()).
  bool ending = false;
  std::size_t reserved = 0;

  std::string progress_json() const {
    json ls = json::array();
    for (auto& l : layers)
      ls.push_back({{"digest", l.digest},
                    {"bytes_done", l.bytes_done},
                    {"bytes_total", l.bytes_total},
                    {"state", l.state}});
    json out = {{"layers", std::move(ls)}};
    if (all_platforms) out["children"] = children;
    return out.dump();
  }
  // The scan's record as it stands, its progress included: what is served and written.
  ScanRecord record() const {
    ScanRecord now = rec;
    now.progress = progress_json();
    return now;
  }
};

struct ScanService::LayerJob {
  explicit LayerJob(asio::any_io_executor ex) : done(ex) {
    done.expires_at(asio::steady_timer::time_point::max());
  }
  asio::steady_timer done;  // cancelled when the job ends
  std::optional<Error> error;
  // Ended without fetching: another replica holds the layer's lease. Not a failed attempt for
  // its waiters, who look again and wait for that replica as it did.
  bool dropped = false;
};

ScanService::ScanService(asio::any_io_executor io, asio::thread_pool& workers, Store& store,
                         RegistryClient& registry, ScanOptions options, Reporter* reporter)
    : io_(std::move(io)),
      workers_(workers),
      store_(store),
      registry_(registry),
      options_(std::move(options)),
      reporter_(reporter),
      replica_id_("bulwarkd-" + random_hex(8)),
      lease_tick_(io_),
      scan_end_retry_(io_) {}

ScanService::~ScanService() = default;

Result<std::unique_ptr<ImageSource>> ScanService::open_source(const SourceSpec& spec) {
  if (opener_) return opener_(spec);
  if (spec.kind == SourceSpec::Kind::registry) return registry_source(registry_, spec.ref);
  return open_local_source(spec);
}

Result<void> ScanService::recover() {
  // At start-up, before the API serves: the queue's depth from here on is read off the io
  // thread (refresh_queue_depth()).
  if (auto queued = store_.count_scans(ScanStatus::queued))
    store_queued_ = static_cast<std::size_t>(*queued);
  if (auto r = adopt_orphans(); !r) return r;
  pump();  // scans left queued by the previous process
  return {};
}

Result<void> ScanService::adopt_orphans() {
  auto running = store_.list_scans(ScanQuery{ScanStatus::running, "", 10'000, ""});
  if (!running) return running.error();
  auto adopted = take_adoption_leases(orphan_candidates(*running));
  auto ids = requeue(std::move(adopted));
  release_adoption_leases(ids);
  return {};
}

std::vector<ScanRecord> ScanService::take_adoption_leases(std::vector<ScanRecord> candidates) {
  std::vector<ScanRecord> out;
  for (auto& c : candidates) {
    auto lease = store_.acquire_lease(scan_lease(c.id), adopt_owner(), kScanLease);
    if (!lease) {
      // Left running: the next renewal's pass adopts them.
      log::warn("adopting unfinished scans failed", {{"error", lease.error().message}});
      break;
    }
    if (*lease) out.push_back(std::move(c));
  }
  return out;
}

void ScanService::release_adoption_leases(const std::vector<std::string>& ids) {
  for (auto& id : ids) (void)store_.release_lease(scan_lease(id), adopt_owner());
}

std::vector<ScanRecord> ScanService::orphan_candidates(
    const std::vector<ScanRecord>& running) const {
  // Queued scans need no adoption: any replica with capacity claims them. Running ones whose
  // replica died (or a previous process of this one) go back to the queue; those running here,
  // or ended here with their end not yet written (the store refused it), are known better here
  // than by the row.
  std::vector<ScanRecord> out;
  for (auto it = running.rbegin(); it != running.rend(); ++it)
    if (!live_.count(it->id) && !unsaved_.count(it->id)) out.push_back(*it);
  return out;
}

std::vector<std::string> ScanService::requeue(std::vector<ScanRecord> adopted) {
  std::vector<std::string> ids;
  for (auto& a : adopted) ids.push_back(a.id);
  bool requeued = false;
  for (auto& stored : adopted) {
    // Claimed by this process while the leases were taken: it runs here.
    if (live_.count(stored.id) || unsaved_.count(stored.id)) continue;
    stored.status = ScanStatus::queued;
    log::info("scan recovered",
              {{"scan", stored.id}, {"image", stored.image}, {"replica", replica_id_}});
    save(std::move(stored));
    requeued = true;
  }
  if (requeued) pump();
  return ids;
}

void ScanService::start(const ScanRecord& claimed) {
  auto live = std::make_shared<Live>();
  live->rec = claimed;
  live->request_id = claimed.request_id;
  live->stop = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
  live_[live->rec.id] = live;
  // Waits that followed it in the store now wait on it here.
  auto [first, last] = remote_waiters_.equal_range(live->rec.id);
  for (auto it = first; it != last; ++it) it->second->cancel();
  auto spec = parse_source(live->rec.image, options_.allow_local_sources);
  auto plat = parse_platform(live->rec.platform);
  if (live->rec.platform == "all") {
    live->all_platforms = true;
    plat = default_platform();
  }
  if (!spec || !plat) {
    finish(*live, make_error(Errc::bad_reference, "stored scan has an invalid reference"));
    return;
  }
  live->spec = *spec;
  live->ref = spec->ref;
  live->platform = *plat;
  ++running_;
  asio::co_spawn(io_, run(live), [id = live->rec.id](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("scan=" + id + " crashed: " + ex.what());
    }
  });
}

awaitable<void> ScanService::keep_leases() {
  auto renewed = std::chrono::steady_clock::now();
  while (!stopping_) {
    lease_tick_.expires_after(kQueuePoll);
    boost::system::error_code ec;
    co_await lease_tick_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    // Scans queued through other replicas, or cancelled through them. With a store pool the
    // queue's depth is read first, one row: an idle replica claims only when something is
    // queued, rather than walking the queue's index every second.
    const bool depth_read = store_pool_ && co_await refresh_queue_depth();
    if (!depth_read || store_queued_ > 0) pump();
    co_await notice_remote_cancels();
    if (auto now = std::chrono::steady_clock::now(); now - renewed >= kScanLeaseRenewal) {
      renewed = now;
      // Scans whose end is not written yet stay held too: no replica may run them again from
      // the stale row.
      std::vector<std::string> held;
      for (auto& [id, live] : live_) held.push_back(scan_lease(id));
      for (auto& [id, rec] : unsaved_) held.push_back(scan_lease(id));
      co_await on_store(store_pool_, [&] {
        for (auto& key : held) (void)store_.acquire_lease(key, replica_id_, kScanLease);
        return 0;
      });
      auto running = co_await on_store(store_pool_, [&] {
        return store_.list_scans(ScanQuery{ScanStatus::running, "", 10'000, ""});
      });
      if (!running) {
        log::warn("adopting unfinished scans failed", {{"error", running.error().message}});
        continue;
      }
      auto candidates = orphan_candidates(*running);
      if (candidates.empty() || stopping_) continue;
      auto adopted = co_await on_store(store_pool_,
                                       [&] { return take_adoption_leases(std::move(candidates)); });
      auto ids = requeue(std::move(adopted));
      co_await on_store(store_pool_, [&] {
        release_adoption_leases(ids);
        return 0;
      });
    }
  }
}

awaitable<void> ScanService::notice_remote_cancels() {
  std::vector<std::string> ids;
  for (auto& [id, live] : live_)
    if (!live->cancel_requested) ids.push_back(id);
  if (ids.empty()) co_return;
  auto cancelled = co_await on_store(store_pool_, [&] {
    std::vector<std::string> out;
    for (auto& id : ids)
      if (auto stored = store_.get_scan(id);
          stored && *stored && (*stored)->status == ScanStatus::cancelled)
        out.push_back(id);
    return out;
  });
  for (auto& id : cancelled) {
    // Ended here meanwhile: nothing left to stop.
    auto it = live_.find(id);
    if (it == live_.end() || it->second->cancel_requested) continue;
    it->second->cancel_requested = true;
    it->second->stop->cancel();
    log::info("scan cancelled through another replica", {{"scan", id}});
  }
}

Result<ScanRecord> ScanService::submit(const ScanRequest& request) {
  auto rec = prepare(request);
  if (!rec) return rec.error();
  if (auto put = store_.put_scan(*rec); !put) return put.error();
  queued(*rec);
  return rec;
}

awaitable<Result<ScanRecord>> ScanService::async_submit(ScanRequest request) {
  auto rec = prepare(request);
  if (!rec) co_return rec.error();
  const std::size_t free = store_pool_ ? free_slots() : 0;
  if (free == 0) {
    auto put = co_await on_store(store_pool_, [&] { return store_.put_scan(*rec); });
    if (!put) co_return put.error();
    queued(*rec);
    co_return rec;
  }
  // Room here: queued and claimed (oldest first, so it or older ones) in one commit.
  Result<std::vector<ScanRecord>> claimed = std::vector<ScanRecord>();
  {
    SlotReservation reserved(claim_reserved_, free);
    claimed = co_await on_store(store_pool_, [&] {
      return store_.submit_scan(*rec, replica_id_, ClaimNext{free, kScanLease, now_rfc3339()});
    });
  }
  if (!claimed) co_return claimed.error();
  ++metrics_.scans_submitted;
  log::info("scan queued", {{"scan", rec->id},
                            {"image", rec->image},
                            {"platform", rec->platform},
                            {"request_id", rec->request_id}});
  ++store_queued_;
  start_claimed(std::move(*claimed));
  if (pump_again_) pump();
  co_return rec;
}

std::size_t ScanService::free_slots() const {
  const std::size_t used = running_ - std::min(running_, ending_) + claim_reserved_;
  return options_.max_concurrent_scans > used ? options_.max_concurrent_scans - used : 0;
}

void ScanService::start_claimed(std::vector<ScanRecord> claimed) {
  for (auto& scan : claimed) {
    if (stopping_) {
      // Claimed as the server began to stop: back to the queue for the next start or another
      // replica, as a scan interrupted by the shutdown would be.
      scan.status = ScanStatus::queued;
      save(std::move(scan));
      continue;
    }
    start(scan);
  }
  // Counted again by the next poll (a count reads the whole queue): meanwhile the claimed ones
  // are no longer queued.
  store_queued_ -= std::min(store_queued_, claimed.size());
}

Result<ScanRecord> ScanService::prepare(const ScanRequest& request) const {
  auto spec = parse_source(request.image, options_.allow_local_sources);
  if (!spec) return spec.error();
  Platform platform = default_platform();
  bool all = request.platform == "all";
  if (!request.platform.empty() && !all) {
    auto p = parse_platform(request.platform);
    if (!p) return p.error();
    platform = *p;
  }
  if (spec->kind == SourceSpec::Kind::registry)
    if (auto allowed = registry_.check_allowed(spec->ref); !allowed) return allowed.error();
  if (stopping_) return make_error(Errc::unavailable, "server is shutting down");

  // Queued in the store, not here: whichever replica has capacity first claims it.
  ScanRecord queued;
  queued.id = new_scan_id();
  queued.image = spec->canonical();
  queued.platform = all ? "all" : platform.str();
  queued.status = ScanStatus::queued;
  queued.created_at = now_rfc3339();
  queued.progress = all ? R"({"layers":[],"children":[]})" : R"({"layers":[]})";
  queued.policy = request.policy;
  queued.request_id = request.request_id;
  return queued;
}

void ScanService::queued(const ScanRecord& rec) {
  ++metrics_.scans_submitted;
  ++store_queued_;
  log::info("scan queued", {{"scan", rec.id},
                            {"image", rec.image},
                            {"platform", rec.platform},
                            {"request_id", rec.request_id}});
  pump();  // may start it at once
}

std::optional<ScanRecord> ScanService::local(const std::string& id) const {
  if (auto it = live_.find(id); it != live_.end()) return it->second->record();
  if (auto it = unsaved_.find(id); it != unsaved_.end()) return it->second;
  if (auto it = recent_ends_.find(id); it != recent_ends_.end()) return it->second;
  return std::nullopt;
}

void ScanService::remember_end(ScanRecord rec) {
  if (recent_ends_.count(rec.id)) return;
  recent_end_order_.push_back(rec.id);
  recent_ends_.emplace(rec.id, std::move(rec));
  if (recent_end_order_.size() > kEndsKept) {
    recent_ends_.erase(recent_end_order_.front());
    recent_end_order_.pop_front();
  }
}

Result<std::optional<ScanRecord>> ScanService::get(const std::string& id) {
  if (auto rec = local(id)) return rec;
  return store_.get_scan(id);
}

awaitable<Result<std::optional<ScanRecord>>> ScanService::async_get(std::string id) {
  if (auto rec = local(id)) co_return rec;
  auto stored = co_await on_store(store_pool_, [&] { return store_.get_scan(id); });
  // Started or ended here while the store answered: this process knows better.
  if (auto rec = local(id)) co_return rec;
  co_return stored;
}

awaitable<Result<std::optional<ScanRecord>>> ScanService::wait(std::string id,
                                                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = kRemoteWaitPollMin;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (auto it = live_.find(id); it != live_.end()) {
      // Running here: woken by its end, whose record is then the Live's, as finish() left it.
      auto live = it->second;
      if (left.count() > 0 && !stopping_) {
        auto timer = std::make_shared<asio::steady_timer>(io_, left);
        live->waiters.push_back(timer);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        std::erase(live->waiters, timer);
      }
      co_return live->record();
    }
    // Ended here lately: its end, with no store read.
    if (auto rec = local(id); rec && is_finished(rec->status)) co_return rec;
    // Queued, run by another replica sharing the store, finished or unknown: followed in the
    // store until it finishes, starts here (start() wakes this wait), or the time is up. Read
    // less often the longer it takes: a scan long in the queue costs a read a second.
    auto s = co_await on_store(store_pool_, [&] { return store_.get_scan(id); });
    if (live_.count(id)) continue;  // started here while the store answered
    // A state this process has not written yet (a scan it put back in the queue, or one that
    // ended meanwhile) is newer than the row.
    if (auto rec = local(id)) s = std::optional<ScanRecord>(std::move(*rec));
    left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
    if (!s || !*s || is_finished((*s)->status) || left.count() <= 0 || stopping_) co_return s;
    if (take_ended_elsewhere(id)) continue;  // announced while the store answered
    auto timer = std::make_shared<asio::steady_timer>(io_, std::min(left, delay));
    auto entry = remote_waiters_.emplace(id, timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    remote_waiters_.erase(entry);
    delay = std::min(delay * 2, kRemoteWaitPollMax);
  }
}

bool ScanService::running_here(const std::string& image) const {
  return std::any_of(live_.begin(), live_.end(),
                     [&](auto& kv) { return kv.second->rec.image == image; });
}

bool ScanService::pending(const std::string& image) const {
  if (running_here(image)) return true;
  auto found = store_.has_pending_scan(image);
  return found && *found;
}

awaitable<bool> ScanService::async_pending(std::string image) {
  if (running_here(image)) co_return true;
  auto found = co_await on_store(store_pool_, [&] { return store_.has_pending_scan(image); });
  co_return found&&* found;
}

std::optional<ScanRecord> ScanService::cancel_local(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return std::nullopt;
  // Running here: it ends now if transferring, else at its next step.
  it->second->cancel_requested = true;
  it->second->stop->cancel();
  return it->second->rec;
}

Result<ScanRecord> ScanService::cancel(const std::string& id) {
  if (auto rec = cancel_local(id)) return *rec;
  // Queued, or running on another replica (which notices within a poll).
  auto was = store_.cancel_scan(id, now_rfc3339());
  if (!was) return was.error();
  auto stored = store_.get_scan(id);
  if (!stored) return stored.error();
  return cancelled(id, *was, *stored);
}

awaitable<Result<ScanRecord>> ScanService::async_cancel(std::string id) {
  if (auto rec = cancel_local(id)) co_return *rec;
  auto answer = co_await on_store(
      store_pool_,
      [&]() -> Result<std::pair<std::optional<ScanStatus>, std::optional<ScanRecord>>> {
        auto was = store_.cancel_scan(id, now_rfc3339());
        if (!was) return was.error();
        auto stored = store_.get_scan(id);
        if (!stored) return stored.error();
        return std::pair{*was, *stored};
      });
  if (!answer) co_return answer.error();
  co_return cancelled(id, answer->first, answer->second);
}

Result<ScanRecord> ScanService::cancelled(const std::string& id, std::optional<ScanStatus> was,
                                          const std::optional<ScanRecord>& stored) {
  if (!stored) return make_error(Errc::not_found, "no scan " + id);
  if (was == ScanStatus::queued) {
    // No replica will run it, so its end is told from here.
    ++metrics_.scans_cancelled;
    telemetry_.finished.add({"cancelled"});
    log::info("scan cancelled",
              {{"scan", id}, {"image", stored->image}, {"request_id", stored->request_id}});
    if (on_finished_) on_finished_(*stored);
  }
  return *stored;
}

awaitable<void> ScanService::follow_scan_ends() {
  // Told once per outage (a database down for an hour would otherwise log every second).
  bool failing = false;
  auto failed = [&](const Error& e) {
    if (!failing)
      log::warn("following scan ends failed; waits read the store meanwhile",
                {{"error", e.message}});
    failing = true;
  };
  while (!stopping_) {
    auto feed = co_await on_store(store_pool_, [&] { return store_.open_scan_end_feed(); });
    if (feed && !*feed) co_return;  // no other process writes this store
    if (!feed) failed(feed.error());
    if (feed && failing) {
      log::info("following scan ends again");
      failing = false;
    }
    // A descriptor of its own for the reactor: the feed's connection keeps the socket and
    // closes it.
    const int fd = feed ? ::dup((*feed)->socket()) : -1;
    if (fd >= 0) {
      scan_end_wait_ = std::make_shared<asio::posix::stream_descriptor>(io_, fd);
      while (!stopping_) {
        boost::system::error_code ec;
        co_await scan_end_wait_->async_wait(asio::posix::stream_descriptor::wait_read,
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec || stopping_) break;
        // Taken until a read finds nothing: the reactor wakes on new bytes only, and one read
        // may leave some.
        Result<std::vector<Store::ScanEnd>> ends;
        do {
          ends = (*feed)->take();
          if (ends)
            for (auto& end : *ends) ended_elsewhere(std::move(end));
        } while (ends && !ends->empty());
        if (!ends) {
          failed(ends.error());
          break;
        }
      }
      scan_end_wait_.reset();
    }
    if (stopping_) break;
    // Broken: the waits read the store meanwhile, as without a feed; another in a moment.
    scan_end_retry_.expires_after(kQueuePoll);
    boost::system::error_code ec;
    co_await scan_end_retry_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void ScanService::ended_elsewhere(Store::ScanEnd end) {
  const std::string id = std::move(end.id);
  if (id.empty() || local(id)) return;  // ran here: its waits were woken by its end
  ++metrics_.scan_end_notices;
  // Announced with the scan as it ended: a wait or a read here answers from it, as for an end
  // here (an end is final), instead of reading the row back.
  if (end.record) remember_end(std::move(*end.record));
  auto [first, last] = remote_waiters_.equal_range(id);
  for (auto it = first; it != last; ++it) it->second->cancel();
  ended_elsewhere_.push_back(id);
  if (ended_elsewhere_.size() > kEndsKept) ended_elsewhere_.pop_front();
}

bool ScanService::take_ended_elsewhere(const std::string& id) {
  auto it = std::find(ended_elsewhere_.begin(), ended_elsewhere_.end(), id);
  if (it == ended_elsewhere_.end()) return false;
  ended_elsewhere_.erase(it);
  return true;
}

awaitable<void> ScanService::shutdown() {
  stopping_ = true;
  lease_tick_.cancel();
  if (scan_end_wait_) scan_end_wait_->cancel();
  scan_end_retry_.cancel();
  // Analyses stop at their next entry or read; their scans resume at the next start.
  cancel_analysis_ = true;
  // Queued scans stay in the store for the next start or another replica.
  // Long-polls return now instead of holding their connections open through the shutdown;
  // transfers end now.
  for (auto& [id, live] : live_) {
    for (auto& w : live->waiters) w->cancel();
    live->stop->cancel();
  }
  for (auto& [id, w] : remote_waiters_) w->cancel();
  asio::steady_timer poll(io_);
  // Running scans see stopping_ at their next chunk or step; transfers stalled on the network
  // end at the registry I/O timeout.
  while (running_ > 0) {
    poll.expires_after(std::chrono::milliseconds(20));
    boost::system::error_code ec;
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  // The scans' last states go to the store before the process ends, as far as it takes them
  // within a few seconds (a refusing store leaves them to the next start's recovery).
  const auto flush_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((claiming_ || claim_reserved_ > 0 || (!unsaved_.empty() && retry_armed_)) &&
         std::chrono::steady_clock::now() < flush_deadline) {
    poll.expires_after(std::chrono::milliseconds(20));
    boost::system::error_code ec;
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void ScanService::abort_transfers() {
  cancel_analysis_ = true;
  for (auto& [digest, weak] : pipes_)
    if (auto pipe = weak.lock()) pipe->fail(make_error(Errc::cancelled, "server stopped"));
  pipes_.clear();
}

ScanMetrics ScanService::metrics() const {
  ScanMetrics m = metrics_;
  // The queue is the store's, shared with every replica of it. With a store pool it is read
  // at recover(), then every poll (keep_leases), and follows this replica's own submits and
  // claims in between; the io thread serves that figure.
  if (store_pool_)
    m.queued = store_queued_;
  else if (auto queued = store_.count_scans(ScanStatus::queued))
    m.queued = *queued;
  m.running = running_;
  return m;
}

awaitable<bool> ScanService::refresh_queue_depth() {
  auto queued =
      co_await on_store(store_pool_, [&] { return store_.count_scans(ScanStatus::queued); });
  if (queued) store_queued_ = static_cast<std::size_t>(*queued);
  co_return queued.has_value();
}

void ScanService::pump() {
  if (stopping_ || running_ >= options_.max_concurrent_scans) return;
  if (store_pool_) {
    if (claiming_) {
      pump_again_ = true;
      return;
    }
    claiming_ = true;
    asio::co_spawn(io_, claim_queued(), [this](std::exception_ptr e) {
      // A claim that returned cleared the flag itself; one with a scan's end may hold it by now.
      if (!e) return;
      claiming_ = false;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error(std::string("claiming queued scans failed: ") + ex.what());
      }
    });
    return;
  }
  auto claimed = store_.claim_queued_scans(replica_id_, kScanLease,
                                           options_.max_concurrent_scans - running_, now_rfc3339());
  if (!claimed) {
    // Left queued: the next poll claims them.
    log::warn("claiming queued scans failed", {{"error", claimed.error().message}});
    return;
  }
  for (auto& scan : *claimed) start(scan);
}

awaitable<void> ScanService::claim_queued() {
  do {
    pump_again_ = false;
    const std::size_t free = stopping_ ? 0 : free_slots();
    if (free == 0) break;
    Result<std::vector<ScanRecord>> claimed = std::vector<ScanRecord>();
    {
      SlotReservation reserved(claim_reserved_, free);
      claimed = co_await on_store(store_pool_, [&] {
        return store_.claim_queued_scans(replica_id_, kScanLease, free, now_rfc3339());
      });
    }
    if (!claimed) {
      // Left queued: the next poll claims them.
      log::warn("claiming queued scans failed", {{"error", claimed.error().message}});
      break;
    }
    const bool stop = stopping_;
    start_claimed(std::move(*claimed));
    if (stop) break;
  } while (pump_again_);
  claiming_ = false;
}

awaitable<void> ScanService::run(std::shared_ptr<Live> live) {
  live->started = std::chrono::steady_clock::now();
  Result<void> outcome = make_error(Errc::internal, "scan did not run");
  try {
    outcome = co_await execute(*live);
    // A scan that ran to its end is written whole, even if a cancel or a shutdown came in
    // meanwhile: a done scan always has its image and report.
    if (outcome && live->found) outcome = co_await end_with_findings(*live);
  } catch (const std::exception& e) {
    outcome = make_error(Errc::internal, std::string("scan failed unexpectedly: ") + e.what());
  }
  // Ended before the layer its first look leased: the lease goes now rather than lapse, unless
  // a scan here fetches that layer under it.
  if (auto& first = live->first_lease; first && first->lease.leased && !jobs_.count(first->digest))
    co_await on_store(store_pool_,
                      [&] { return store_.release_lease("layer:" + first->digest, replica_id_); });
  live->first_lease.reset();
  finish(*live, outcome);
  --running_;
  const bool claimed_some = !live->claimed_next.empty();
  start_claimed(std::move(live->claimed_next));
  claim_reserved_ -= live->reserved;
  if (live->ending) --ending_;
  // A claim with this end that found no scan found the queue empty, or its rows being claimed
  // by another replica (SKIP LOCKED): no claim of its own then; the next end or poll fills the
  // slot, and submits meanwhile asked for another pump.
  if (live->claim_limit == 0 || claimed_some || pump_again_) pump();
}

void ScanService::finish(Live& live, const Result<void>& outcome) {
  bool interrupted = !outcome && outcome.error().code == Errc::cancelled;
  if (interrupted && stopping_ && !live.cancel_requested) {
    // Shutdown, not a user's cancel: leave it for the next start, or another replica, to resume.
    live.rec.status = ScanStatus::queued;
    persist(live);
    (void)store_.release_lease(scan_lease(live.rec.id), replica_id_);
    live_.erase(live.rec.id);
    return;
  }
  if (outcome) {
    live.rec.status = ScanStatus::done;
    ++metrics_.scans_done;
  } else if (live.cancel_requested) {
    live.rec.status = ScanStatus::cancelled;
    live.rec.error_code = "cancelled";
    live.rec.error_message = "cancelled by request";
    ++metrics_.scans_cancelled;
  } else {
    live.rec.status = ScanStatus::failed;
    live.rec.error_code = std::string(errc_name(outcome.error().code));
    live.rec.error_message = outcome.error().message;
    ++metrics_.scans_failed;
  }
  if (live.end_stored) {
    // Written with its findings: nothing of this scan is left to write, and an older state
    // kept for writing would be served in its place.
    unsaved_.erase(live.rec.id);
    unsaved_serial_.erase(live.rec.id);
    unsaved_found_.erase(live.rec.id);
    remember_end(live.record());
  } else {
    live.rec.finished_at = now_rfc3339();
    if (live.found && live.rec.status == ScanStatus::done)
      unsaved_found_[live.rec.id] = std::move(*live.found);
    persist(live);
  }
  std::string outcome_name(scan_status_name(live.rec.status));
  double seconds =
      live.started == std::chrono::steady_clock::time_point{}
          ? 0.0
          : std::chrono::duration<double>(std::chrono::steady_clock::now() - live.started).count();
  telemetry_.finished.add({outcome_name});
  telemetry_.duration.observe({outcome_name}, seconds);
  json result = json::parse(live.rec.result.empty() ? "{}" : live.rec.result, nullptr, false);
  auto field = [&](const char* key) {
    return result.is_object() && result.contains(key)
               ? (result[key].is_string() ? result[key].get<std::string>() : result[key].dump())
               : std::string();
  };
  // A failed scan is something an operator acts on: warn, with its error.
  log::Level level = live.rec.status == ScanStatus::failed ? log::Level::warn : log::Level::info;
  bool scored = result.is_object() && result.contains("score") && result["score"].is_number();
  log::write(level, "scan " + outcome_name,
             {{"scan", live.rec.id},
              {"image", live.rec.image},
              {"manifest_digest", live.rec.manifest_digest},
              {"duration_s", seconds},
              scored ? log::Field("score", result["score"].get<int>()) : log::Field("score", ""),
              {"grade", field("grade")},
              {"verdict", field("verdict")},
              {"error", live.rec.error_code},
              {"error_message", live.rec.error_message},
              {"request_id", live.request_id}});
  for (auto& w : live.waiters) w->cancel();
  if (on_finished_) on_finished_(live.rec);
  // An end not written yet (the store pool writes it, or the store refused it) keeps its lease
  // until write_unsaved() has written it; an end written with its findings let it go.
  if (!live.end_stored && !unsaved_.count(live.rec.id))
    (void)store_.release_lease(scan_lease(live.rec.id), replica_id_);
  live_.erase(live.rec.id);
}

void ScanService::persist(const Live& live) {
  save(live.record());
}

void ScanService::persist_later(const std::string& id) {
  if (!store_pool_) {
    if (auto it = live_.find(id); it != live_.end()) persist(*it->second);
    return;
  }
  asio::co_spawn(
      io_,
      [this, id]() -> awaitable<void> {
        asio::steady_timer pause(io_, kProgressDelay);
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        // Ended meanwhile (finish() saved its end and let it go), or stopping: nothing to add.
        if (auto it = live_.find(id);
            !stopping_ && it != live_.end() && it->second->rec.status == ScanStatus::running)
          persist(*it->second);
      },
      asio::detached);
}

void ScanService::save(ScanRecord rec) {
  if (store_pool_) {
    // Written by write_unsaved() on the store pool, in the order saved, the latest state of
    // each scan once; served from here meanwhile.
    unsaved_serial_[rec.id] = ++save_serial_;
    unsaved_[rec.id] = std::move(rec);
  } else if (auto r = write_end(rec); !r) {
    // A full disk must not lose a scan's final state (it would run again at the next start):
    // keep it here, serve it from here, and write it once the store takes writes again.
    log::error("scan=" + rec.id + " cannot be saved (kept, retried): " + r.error().message);
    unsaved_serial_[rec.id] = ++save_serial_;
    unsaved_[rec.id] = std::move(rec);
  } else {
    unsaved_.erase(rec.id);
    unsaved_serial_.erase(rec.id);
    unsaved_found_.erase(rec.id);
    if (is_finished(rec.status)) prune(rec);
    return;
  }
  if (!retry_armed_) {
    retry_armed_ = true;
    asio::co_spawn(io_, write_unsaved(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error(std::string("saving scans failed: ") + ex.what());
      }
    });
  }
}

Result<void> ScanService::write_end(const ScanRecord& rec) {
  auto found = unsaved_found_.find(rec.id);
  if (found == unsaved_found_.end() || !is_finished(rec.status)) return store_.put_scan(rec);
  auto r =
      store_.finish_image_scan(found->second, rec, options_.keep_scans_per_image, replica_id_, {});
  return r ? Result<void>{} : Result<void>(r.error());
}

void ScanService::prune(const ScanRecord& finished) {
  if (finished.status == ScanStatus::done || finished.status == ScanStatus::failed ||
      finished.status == ScanStatus::cancelled)
    asio::co_spawn(
        io_,
        [this, image = finished.image]() -> awaitable<void> {
          auto n = co_await on_store(store_pool_, [&] {
            return store_.prune_scans(image, options_.keep_scans_per_image);
          });
          if (!n)
            log::warn("pruning old scans failed", {{"image", image}, {"error", n.error().message}});
        },
        [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log::error(std::string("pruning old scans failed: ") + ex.what());
          }
        });
}

awaitable<void> ScanService::write_unsaved() {
  asio::steady_timer timer(io_);
  // The first pass writes at once when the pool does the writing; after a refusal it waits.
  auto delay = std::chrono::milliseconds(store_pool_ ? 0 : 500);
  while (!unsaved_.empty()) {
    if (delay.count() > 0) {
      timer.expires_after(delay);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    bool refused = false;
    while (!unsaved_.empty()) {
      ScanRecord rec = unsaved_.begin()->second;
      const std::uint64_t serial = unsaved_serial_[rec.id];
      // Only finish() saves a finished state, as the scan ends here: its row, the pruning of
      // the image's older scans and the release of its lease are one transaction.
      const bool ended = is_finished(rec.status);
      std::optional<ScannedImage> found;
      if (auto f = unsaved_found_.find(rec.id); ended && f != unsaved_found_.end())
        found = f->second;
      auto r = co_await on_store(store_pool_, [&] {
        if (found) {
          auto w =
              store_.finish_image_scan(*found, rec, options_.keep_scans_per_image, replica_id_, {});
          return w ? Result<void>{} : Result<void>(w.error());
        }
        return ended ? store_.finish_scan(rec, options_.keep_scans_per_image, replica_id_)
                     : store_.put_scan(rec);
      });
      if (!r) {
        if (!refused && store_pool_)
          log::error("scan=" + rec.id + " cannot be saved (kept, retried): " + r.error().message);
        refused = true;
        break;
      }
      if (delay.count() > 0) log::info("scan=" + rec.id + " saved after a store failure");
      // Saved again meanwhile: the newer state is written next. Ended with its findings
      // meanwhile: nothing left (finish() dropped it).
      if (auto it = unsaved_serial_.find(rec.id);
          it != unsaved_serial_.end() && it->second == serial) {
        unsaved_.erase(rec.id);
        unsaved_serial_.erase(rec.id);
        unsaved_found_.erase(rec.id);
        if (ended) remember_end(rec);
      }
      if (!ended && !live_.count(rec.id)) {
        auto key = scan_lease(rec.id);
        co_await on_store(store_pool_, [&] { return store_.release_lease(key, replica_id_); });
      }
    }
    delay = refused ? std::clamp(delay * 2, std::chrono::milliseconds(500),
                                 std::chrono::milliseconds(10'000))
                    : std::chrono::milliseconds(0);
  }
  retry_armed_ = false;
}

awaitable<Result<void>> ScanService::execute_all(Live& live) {
  auto source = open_source(live.spec);
  if (!source) co_return source.error();
  auto platforms = co_await (*source)->platforms();
  if (!platforms) co_return platforms.error();
  live.rec.index_digest = platforms->first;
  for (auto& p : platforms->second) {
    auto child = co_await async_submit(
        ScanRequest{live.rec.image, p.str(), live.rec.policy, live.request_id});
    if (!child) co_return child.error();
    live.children.push_back(child->id);
  }
  persist(live);
  // Waiting for the children must not hold a running slot they need.
  --running_;
  pump();
  std::string failures;
  std::vector<std::pair<std::string, ScanResult>> results;
  for (auto& id : live.children) {
    auto child = co_await async_get(id);
    while (child && *child && !is_finished((*child)->status) && !stopping_ &&
           !live.cancel_requested)
      child = co_await wait(id, std::chrono::seconds(30));
    if (!child || !*child || !is_finished((*child)->status)) continue;
    if ((*child)->status != ScanStatus::done)
      failures +=
          (failures.empty() ? "" : "; ") + (*child)->platform + ": " + (*child)->error_message;
    results.emplace_back((*child)->platform,
                         scan_result_from_json(json::parse(
                             (*child)->result.empty() ? "{}" : (*child)->result, nullptr, false)));
  }
  // The whole image is as good as its worst platform: a gate on it fails if any fails.
  live.rec.result = to_json(combine_results(results)).dump();
  ++running_;
  if (live.cancel_requested || stopping_) co_return make_error(Errc::cancelled, "cancelled");
  if (!failures.empty())
    co_return make_error(Errc::registry_error, "platform scans failed: " + failures);
  co_return Result<void>{};
}

awaitable<Result<void>> ScanService::execute(Live& live) {
  if (live.all_platforms) co_return co_await execute_all(live);
  auto source = open_source(live.spec);
  if (!source) co_return source.error();
  live.source = std::move(*source);
  // A manifest that already has a report under the current ruleset, from layers the analysers
  // in use would not analyse differently, needs nothing more than its manifest: no config, no
  // layer, no merge, no rules.
  // Parsed once here and judged from this parse: a rescan of a known image reads its report
  // one time.
  // The same look tells a scan which layers it must fetch: one trip to the store for both.
  std::optional<json> known_report;
  std::optional<std::vector<std::optional<LayerMeta>>> looked;
  KnownImage known = [&](const ResolvedImage& r) -> awaitable<bool> {
    const std::string rules = reporter_ ? reporter_->rules().version() : std::string();
    const std::vector<std::string> digests = layer_digests(r.manifest);
    // A new image's first layer to fetch is leased, and its report's sources read, with the
    // look: one commit before the fetch, not three. Not a layer that a scan here is fetching
    // already: its lease is that scan's.
    LookupAsk ask;
    ask.owner = replica_id_;
    ask.ttl = kLayerLease;
    for (std::size_t i = 0; i < digests.size(); ++i)
      ask.fetchable.push_back(!is_foreign(r.manifest.layers[i]) && !jobs_.count(digests[i]));
    ask.current = [this](const LayerMeta& m) { return current(m, options_.analysis); };
    ask.sources = reporter_ != nullptr;
    const auto asked_at = std::chrono::steady_clock::now();
    live.jobs_ended_at_look = layer_jobs_ended();
    auto lookup = co_await on_store(store_pool_, [&]() -> Result<std::optional<json>> {
      auto found = store_.lookup_image(r.manifest_digest, rules, digests, ask);
      if (!found) return found.error();
      looked = std::move(found->layers);
      if (found->leased_index)
        live.first_lease = Live::FirstLease{*found->leased_index, digests[*found->leased_index],
                                            found->lease, asked_at};
      if (found->sources) {
        for (std::size_t i = 0; i < digests.size(); ++i)
          if (auto& rec = found->sources->layers[i]) live.facts[digests[i]] = std::move(rec);
        live.context = std::move(found->sources->context);
      }
      if (!reporter_ || !found->report) return std::optional<json>();
      // A stored report damaged by hand or by a disk is built again from the layers' facts,
      // rather than failing every rescan of the image.
      json parsed = json::parse(found->report->report, nullptr, false);
      if (!parsed.is_object()) return std::optional<json>();
      for (auto& meta : *looked)
        if (!meta || !current(*meta, options_.analysis)) return std::optional<json>();
      return std::optional<json>(std::move(parsed));
    });
    if (lookup) known_report = std::move(*lookup);
    co_return known_report.has_value();
  };
  auto resolved = co_await live.source->resolve(live.platform, known);
  if (!resolved) co_return resolved.error();
  live.image = std::move(*resolved);
  auto& image = *live.image;
  live.rec.manifest_digest = image.manifest_digest;
  live.rec.index_digest = image.index_digest;
  live.layers.clear();
  for (auto& d : image.manifest.layers)
    live.layers.push_back({d.digest, 0, static_cast<std::uint64_t>(d.size), "pending"});
  if (image.known && known_report) co_return co_await finish_known(live, *known_report);
  persist_later(live.rec.id);

  const std::vector<std::string> digests = layer_digests(image.manifest);
  // Looked at when the manifest was resolved; a source that resolves without asking (a local
  // archive) is looked at now.
  Result<std::vector<std::optional<LayerMeta>>> first_look =
      std::vector<std::optional<LayerMeta>>();
  if (looked) {
    first_look = std::move(*looked);
  } else {
    live.jobs_ended_at_look = layer_jobs_ended();
    first_look = co_await on_store(store_pool_, [&] { return store_.get_layer_metas(digests); });
  }
  if (!first_look) co_return first_look.error();
  for (std::size_t i = 0; i < image.manifest.layers.size(); ++i) {
    if (live.cancel_requested || stopping_) co_return make_error(Errc::cancelled, "cancelled");
    auto r = co_await ensure_layer(live, i, (*first_look)[i]);
    if (!r) co_return r.error();
  }

  // Up to max_config_bytes parsed, masked, clipped and written out again, in one trip to a
  // worker. Secrets are masked before the config reaches the database, and strings past their
  // bounds clipped; rules read that form (a masked value is still a value).
  auto [config, stored_config] = co_await on_pool(&workers_, [&] {
    json c = bound_config(mask_config_secrets(json::parse(image.config_body, nullptr, false)));
    std::string text = c.dump(-1, ' ', false, json::error_handler_t::replace);
    return std::pair{std::move(c), std::move(text)};
  });
  ImageRecord rec;
  rec.manifest_digest = image.manifest_digest;
  rec.media_type = image.manifest.media_type;
  rec.config_digest = image.manifest.config.digest;
  rec.os = image.platform.os;
  rec.architecture = image.platform.architecture;
  rec.variant = image.platform.variant;
  rec.created = config.value("created", "");
  if (auto c = config.find("config"); c != config.end() && c->is_object())
    rec.user = c->value("User", "");
  rec.config = std::move(stored_config);
  rec.manifest = image.manifest_body;
  std::vector<std::string> diff_ids;
  if (auto rf = config.find("rootfs"); rf != config.end() && rf->is_object())
    if (auto ids = rf->find("diff_ids"); ids != rf->end() && ids->is_array())
      for (auto& id : *ids)
        if (id.is_string()) diff_ids.push_back(id.get<std::string>());
  // What each layer decompressed to, as this scan analysed it or first found it stored: only
  // layers that another scan analysed meanwhile are read again.
  std::vector<std::string> stored_diff_ids(digests.size());
  std::vector<std::size_t> reread;
  for (std::size_t i = 0; i < digests.size(); ++i) {
    const auto& first = (*first_look)[i];
    if (auto f = live.facts.find(digests[i]); f != live.facts.end())
      stored_diff_ids[i] = f->second->facts.diff_id;
    else if (first && current(*first, options_.analysis))
      stored_diff_ids[i] = first->diff_id;
    else
      reread.push_back(i);
  }
  if (!reread.empty()) {
    auto metas = co_await on_store(store_pool_, [&] {
      std::vector<std::string> some;
      for (auto i : reread) some.push_back(digests[i]);
      return store_.get_layer_metas(some);
    });
    if (!metas) co_return metas.error();
    for (std::size_t k = 0; k < reread.size(); ++k)
      if (auto& meta = (*metas)[k]) stored_diff_ids[reread[k]] = meta->diff_id;
  }
  for (std::size_t i = 0; i < image.manifest.layers.size(); ++i) {
    auto& d = image.manifest.layers[i];
    std::string diff_id = i < diff_ids.size() ? diff_ids[i] : std::string();
    // The config names what each layer must decompress to; a registry that serves another
    // stream under a valid blob digest is caught here.
    const std::string& stored = stored_diff_ids[i];
    if (!stored.empty() && !diff_id.empty() && stored != diff_id)
      co_return make_error(Errc::digest_mismatch, "layer " + d.digest + " decompresses to " +
                                                      stored + " but the image config says " +
                                                      diff_id);
    rec.layers.push_back({d.digest, d.media_type, d.size, diff_id});
  }
  std::optional<TagRecord> tag;
  if (live.spec.kind == SourceSpec::Kind::registry && !live.ref.tag.empty())
    tag = TagRecord{live.ref.registry, live.ref.repository, live.ref.tag, rec.manifest_digest};
  const bool reference =
      std::find(options_.reference_images.begin(), options_.reference_images.end(),
                live.rec.image) != options_.reference_images.end();
  // Written with the scan's end (end_with_findings()): the image, its report and the scan's
  // row are one commit.
  ScannedImage found{std::move(rec), std::move(tag), std::nullopt,
                     reference ? live.rec.image : std::string()};
  if (reporter_) {
    // Merging the layers and running the rules is CPU work, as large as the image: on a
    // worker, so that the API keeps answering meanwhile.
    auto report = co_await asio::co_spawn(
        workers_,
        [reporter = reporter_, &found, image = live.rec.image, policy = live.rec.policy,
         known = &live.facts, &context = live.context]() -> awaitable<Result<ScanResult>> {
          auto built = reporter->compose(found.image, image, known, found.reference_name,
                                         context ? &*context : nullptr);
          // A config of megabytes leaves its parsed copies' pages in the allocator's arenas:
          // handed back, so that the daemon's memory returns to where it was.
          if (found.image.config.size() > kTrimAfterConfigBytes) malloc_trim(0);
          if (!built) co_return built.error();
          found.report = std::move(built->record);
          // The verdict is given once, here: polls read it as stored.
          co_return judge_report(built->report, policy, reporter->rules());
        },
        asio::use_awaitable);
    if (!report) co_return report.error();
    live.rec.result = to_json(*report).dump();
  }
  live.found = std::move(found);
  co_return Result<void>{};
}

awaitable<Result<void>> ScanService::end_with_findings(Live& live) {
  ScanRecord end = live.record();
  end.status = ScanStatus::done;
  end.finished_at = now_rfc3339();
  // The slot this scan frees is filled by the same transaction: the queue's next scans are
  // claimed with this one's end, rather than by a claim of their own after it; as many as the
  // claims in flight leave free. The slot and the claim are held until run() has started what
  // it claimed.
  ClaimNext next;
  if (store_pool_ && !stopping_ && !live.cancel_requested) {
    live.ending = true;
    ++ending_;
    next = ClaimNext{free_slots(), kScanLease, end.finished_at};
    live.reserved = next.limit;
    claim_reserved_ += next.limit;
  }
  auto r = co_await on_store(store_pool_, [&] {
    return store_.finish_image_scan(*live.found, end, options_.keep_scans_per_image, replica_id_,
                                    next);
  });
  if (r) {
    live.rec.finished_at = end.finished_at;
    live.end_stored = true;
    live.claimed_next = std::move(*r);
    live.claim_limit = next.limit;
    co_return Result<void>{};
  }
  // Refused. If the store takes the scan's end as failed, what it found cannot be stored and
  // the scan fails with the reason. If not (a full disk), finish() keeps the done end and what
  // it found, to be written together once the store takes writes again.
  ScanRecord failed = end;
  failed.status = ScanStatus::failed;
  failed.error_code = std::string(errc_name(r.error().code));
  failed.error_message = r.error().message;
  auto f = co_await on_store(store_pool_, [&] {
    return store_.finish_scan(failed, options_.keep_scans_per_image, replica_id_);
  });
  if (!f) {
    log::error("scan=" + live.rec.id + " cannot be saved (kept, retried): " + r.error().message);
    co_return Result<void>{};
  }
  live.rec.finished_at = failed.finished_at;
  live.end_stored = true;
  co_return r.error();
}

// A tag check waiting for its batch: `done` is cancelled once the store has answered.
struct ScanService::TagCheckWait {
  TagCheckWait(TagCheck c, const asio::any_io_executor& ex)
      : check(std::move(c)), done(ex, asio::steady_timer::time_point::max()) {}
  TagCheck check;
  Result<TagState> state = TagState::changed;
  bool answered = false;
  asio::steady_timer done;
};

awaitable<Result<TagState>> ScanService::async_check_tag(ImageRef ref, std::string head_digest) {
  std::vector<TagHead> one;
  one.push_back({std::move(ref), std::move(head_digest)});
  auto states = co_await async_check_tags(std::move(one));
  co_return std::move(states.front());
}

awaitable<std::vector<Result<TagState>>> ScanService::async_check_tags(std::vector<TagHead> tags) {
  std::vector<Result<TagState>> out(tags.size(), TagState::pending);
  std::vector<std::shared_ptr<TagCheckWait>> waits(tags.size());
  for (std::size_t i = 0; i < tags.size(); ++i) {
    std::string image = tags[i].ref.canonical();
    if (running_here(image)) continue;
    std::optional<TagRecord> tag;
    if (!tags[i].ref.tag.empty())
      tag = TagRecord{tags[i].ref.registry, tags[i].ref.repository, tags[i].ref.tag, ""};
    waits[i] = std::make_shared<TagCheckWait>(
        TagCheck{std::move(image), std::move(tags[i].head_digest), std::move(tag)}, io_);
    tag_checks_.push_back(waits[i]);
  }
  if (!tag_checks_.empty() && !sending_tag_checks_) {
    sending_tag_checks_ = true;
    asio::co_spawn(io_, send_tag_checks(), asio::detached);
  }
  for (std::size_t i = 0; i < waits.size(); ++i) {
    if (!waits[i]) continue;
    while (!waits[i]->answered) {
      boost::system::error_code ec;
      co_await waits[i]->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    out[i] = std::move(waits[i]->state);
  }
  co_return out;
}

awaitable<void> ScanService::send_tag_checks() {
  // Enough to share a commit among a pass's concurrent tags; small enough that one batch's
  // transaction holds the writer briefly.
  constexpr std::size_t kBatch = 64;
  // Started from within a check (co_spawn dispatches): the checks made in the same turn of the
  // io loop join the first batch.
  co_await asio::post(io_, asio::use_awaitable);
  const std::string ruleset = reporter_ ? reporter_->rules().version() : std::string();
  const std::string platform = default_platform().str();
  while (!tag_checks_.empty()) {
    const std::size_t n = std::min(tag_checks_.size(), kBatch);
    std::vector<std::shared_ptr<TagCheckWait>> batch(tag_checks_.begin(), tag_checks_.begin() + n);
    tag_checks_.erase(tag_checks_.begin(), tag_checks_.begin() + n);
    std::vector<TagCheck> checks;
    for (auto& w : batch) checks.push_back(w->check);
    Result<std::vector<TagState>> states = std::vector<TagState>();
    try {
      states = co_await on_store(store_pool_, [&] {
        return store_.check_tags(checks, platform, ruleset, [this](const LayerMeta& m) {
          return current(m, options_.analysis);
        });
      });
    } catch (const std::exception& e) {
      states = make_error(Errc::internal, std::string("tag check: ") + e.what());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& w = *batch[i];
      if (!states)
        w.state = states.error();
      else
        w.state = (*states)[i];
      if (w.state && *w.state == TagState::unchanged) ++metrics_.unchanged_tags;
      w.answered = true;
      w.done.cancel();
    }
  }
  sending_tag_checks_ = false;
}

awaitable<Result<void>> ScanService::finish_known(Live& live, const json& report) {
  for (auto& l : live.layers) {
    l.state = "cached";
    l.bytes_done = l.bytes_total;
  }
  metrics_.layer_cache_hits += live.layers.size();
  ++metrics_.known_rescans;
  // Seen again, and the tag (if any) now names this digest: one small write; the image's
  // layers and config are unchanged and stay as stored.
  std::optional<TagRecord> tag;
  if (live.spec.kind == SourceSpec::Kind::registry && !live.ref.tag.empty())
    tag = TagRecord{live.ref.registry, live.ref.repository, live.ref.tag, live.rec.manifest_digest};
  auto touched = co_await on_store(
      store_pool_, [&] { return store_.touch_image(live.rec.manifest_digest, tag); });
  if (!touched) co_return touched.error();
  live.rec.result = to_json(judge_report(report, live.rec.policy, reporter_->rules())).dump();
  co_return Result<void>{};
}

awaitable<Result<void>> ScanService::ensure_layer(Live& live, std::size_t index,
                                                  std::optional<LayerMeta> first_look) {
  const Descriptor& d = live.image->manifest.layers[index];
  auto& progress = live.layers[index];
  const std::string lease = "layer:" + d.digest;
  const auto remote_deadline = std::chrono::steady_clock::now() + kRemoteLayerWait;
  bool waiting_remote = false;
  // Another scan here may have fetched and stored the layer since the first look: then it is
  // read again, and a lease taken with the look is not trusted to mean "not stored".
  const bool look_current = !ended_since(d.digest, live.jobs_ended_at_look);
  bool looked = look_current;
  std::optional<LayerLease> first_lease;
  if (live.first_lease && live.first_lease->index == index) {
    if (look_current &&
        std::chrono::steady_clock::now() - live.first_lease->taken < kLayerLease / 2)
      first_lease = std::move(live.first_lease->lease);
    live.first_lease.reset();
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    Result<std::optional<LayerMeta>> stored = first_look;
    if (!std::exchange(looked, false))
      stored = co_await on_store(store_pool_, [&] { return store_.get_layer_meta(d.digest); });
    if (!stored) co_return stored.error();
    if (*stored && current(**stored, options_.analysis)) {
      if (progress.state == "pending") {
        progress.state = "cached";
        ++metrics_.layer_cache_hits;
      } else {
        progress.state = "analyzed";
      }
      progress.bytes_done = progress.bytes_total;
      co_return Result<void>{};
    }
    if (auto it = jobs_.find(d.digest); it != jobs_.end()) {
      // Another scan is fetching this layer: share its result instead of fetching again.
      auto job = it->second;
      first_lease.reset();  // this process's lease is that job's
      progress.state = "waiting";
      ++metrics_.layer_shared_fetches;
      boost::system::error_code ec;
      co_await job->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (job->error && job->error->code != Errc::cancelled) co_return *job->error;
      if (job->dropped) --attempt;
      continue;
    }
    if (is_foreign(d)) {
      LayerRecord rec{d.digest, d.media_type, kAnalyzerVersion, now_rfc3339(), {}};
      rec.facts.status = LayerStatus::skipped;
      rec.facts.status_reason = "foreign or non-distributable layer: not fetched";
      rec.facts.compressed_size = static_cast<std::uint64_t>(d.size);
      auto put = co_await on_store(store_pool_, [&] { return store_.put_layer(rec); });
      if (!put) co_return put.error();
      live.facts[d.digest] = std::make_shared<const LayerRecord>(std::move(rec));
      progress.state = "skipped";
      co_return Result<void>{};
    }
    // This scan takes the layer for this process before anything suspends it: the store calls
    // below are awaited, and another scan of the same layer meanwhile must find the job and
    // wait for it rather than fetch the blob a second time. Dropped without an error when this
    // scan does not fetch after all; its waiters then look again.
    auto job = std::make_shared<LayerJob>(io_);
    jobs_[d.digest] = job;
    auto drop_job = [&] {
      jobs_.erase(d.digest);
      job->dropped = true;
      job->done.cancel();
    };
    // Replicas sharing a database: the one holding the layer's lease fetches it, the others
    // wait for its facts to appear in the store. The first look's lease stands for the first
    // ask while less than half its term has passed.
    Result<LayerLease> leased = LayerLease{};
    if (first_lease)
      leased = std::move(*first_lease);
    else
      leased = co_await on_store(
          store_pool_, [&] { return store_.lease_layer(d.digest, replica_id_, kLayerLease); });
    first_lease.reset();
    if (!leased || !leased->leased) drop_job();
    if (!leased) co_return leased.error();
    if (!leased->leased) {
      if (!waiting_remote) {
        waiting_remote = true;
        progress.state = "waiting";
        ++metrics_.layer_shared_fetches;
      }
      if (live.cancel_requested || stopping_)
        co_return make_error(Errc::cancelled, "cancelled while waiting for layer " + d.digest);
      if (std::chrono::steady_clock::now() > remote_deadline)
        co_return make_error(Errc::timeout,
                             "another replica's analysis of layer " + d.digest + " did not finish");
      asio::steady_timer pause(io_, std::chrono::milliseconds(200));
      boost::system::error_code ec;
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      --attempt;  // waiting on another replica is not a failed attempt
      continue;
    }
    // Another replica may have stored the facts between the look above and the lease.
    if (leased->stored && current(*leased->stored, options_.analysis)) {
      drop_job();
      co_await on_store(store_pool_, [&] { return store_.release_lease(lease, replica_id_); });
      continue;
    }
    progress.state = "fetching";
    auto facts = co_await fetch_and_analyze(live, index);
    jobs_.erase(d.digest);
    ended_jobs_.emplace_back(layer_jobs_ended() + 1, d.digest);
    if (ended_jobs_.size() > kEndedJobsKept) ended_jobs_.pop_front();
    // Stored facts ended the lease with their write.
    if (!facts)
      co_await on_store(store_pool_, [&] { return store_.release_lease(lease, replica_id_); });
    if (!facts) job->error = facts.error();
    job->done.cancel();
    if (!facts) {
      progress.state = "failed";
      co_return facts.error();
    }
    ++metrics_.layers_analyzed;
    progress.state = "analyzed";
    // Kept for the report: what this scan analysed is not read back from the store.
    live.facts[d.digest] = std::make_shared<const LayerRecord>(
        LayerRecord{d.digest, d.media_type, kAnalyzerVersion, now_rfc3339(), std::move(*facts)});
    co_return Result<void>{};
  }
  co_return make_error(Errc::internal, "layer " + d.digest + " could not be analysed");
}

bool ScanService::ended_since(const std::string& digest, std::uint64_t since) const {
  if (layer_jobs_ended() == since) return false;
  // Older than what is kept: taken as ended meanwhile, which costs one more read.
  if (ended_jobs_.front().first > since + 1) return true;
  return std::any_of(ended_jobs_.begin(), ended_jobs_.end(),
                     [&](auto& e) { return e.first > since && e.second == digest; });
}

awaitable<Result<LayerFacts>> ScanService::fetch_and_analyze(Live& live, std::size_t index) {
  using namespace asio::experimental::awaitable_operators;
  const Descriptor d = live.image->manifest.layers[index];
  auto pipe = std::make_shared<ChunkPipe>(io_, options_.pipe_chunks);
  pipes_[d.digest] = pipe;
  auto* progress = &live.layers[index];
  auto renewed = std::chrono::steady_clock::now();

  auto produce = [&]() -> awaitable<std::optional<Error>> {
    auto r =
        co_await live.source->fetch_blob(*live.image, d, [&](std::string chunk) -> awaitable<bool> {
          if (live.cancel_requested || stopping_) co_return false;
          progress->bytes_done += chunk.size();
          // A long layer keeps its lease while bytes arrive.
          if (auto now = std::chrono::steady_clock::now(); now - renewed > kLayerLeaseRenewal) {
            renewed = now;
            co_await on_store(store_pool_, [&] {
              return store_.acquire_lease("layer:" + d.digest, replica_id_, kLayerLease);
            });
          }
          co_return co_await pipe->push(std::move(chunk));
        });
    if (r) {
      pipe->finish();
      co_return std::nullopt;
    }
    pipe->fail(r.error());
    co_return r.error();
  };

  // Runs on a worker: analysis, then the facts' single write transaction. The stream only
  // ends cleanly after the producer verified the digest, so nothing unverified is stored.
  auto consume = [&]() -> awaitable<std::pair<std::optional<Error>, LayerFacts>> {
    co_return co_await asio::co_spawn(
        workers_,
        [pipe, limits = options_.limits, analysis = options_.analysis, &store = store_, d,
         cancel = &cancel_analysis_, &took = telemetry_.layer_duration]()
            -> awaitable<std::pair<std::optional<Error>, LayerFacts>> {
          auto start = std::chrono::steady_clock::now();
          auto seconds = [&] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          };
          Result<LayerFacts> facts = [&] {
            PipeSource source(pipe);
            return analyze_layer(source, limits, analysis, cancel);
          }();
          if (!facts) {
            took.observe({"error"}, seconds());
            co_return std::pair{std::optional<Error>(facts.error()), LayerFacts{}};
          }
          LayerRecord rec{d.digest, d.media_type, kAnalyzerVersion, now_rfc3339(),
                          std::move(*facts)};
          if (auto put = store.put_layer(rec); !put) {
            took.observe({"error"}, seconds());
            co_return std::pair{std::optional<Error>(put.error()), LayerFacts{}};
          }
          took.observe({std::string(layer_status_name(rec.facts.status))}, seconds());
          co_return std::pair{std::optional<Error>(), std::move(rec.facts)};
        },
        asio::use_awaitable);
  };

  // Ends when the scan is cancelled or the server stops; the transfer racing it is then
  // cancelled wherever it waits.
  auto stopped = [&]() -> awaitable<void> {
    while (!live.cancel_requested && !stopping_) {
      boost::system::error_code ec;
      co_await live.stop->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) co_return;  // the transfer ended
    }
  };
  auto transfer = [&]() -> awaitable<std::optional<Error>> {
    auto raced = co_await (produce() || stopped());
    if (raced.index() == 0) co_return std::get<0>(raced);
    // The cancelled producer may have ended by exception, without failing the pipe.
    Error e = make_error(Errc::cancelled, "transfer of layer " + d.digest + " stopped");
    pipe->fail(e);
    co_return e;
  };
  auto [fetch_error, analysis] = co_await (transfer() && consume());
  pipes_.erase(d.digest);
  if (fetch_error) co_return *fetch_error;
  if (analysis.first) co_return *analysis.first;
  co_return std::move(analysis.second);
}

}  // namespace bw
