// The scan service: a queue of scans in the store, shared by every replica of it, each running
// at most a concurrency limit of them, layer analysis shared by
// digest (a layer already stored at the current analyser version is never fetched again;
// concurrent scans needing the same layer share one fetch), and recovery of unfinished scans
// at start-up. Knows nothing of HTTP parsing.
//
// Thread-safety: every method runs on the io_context's single thread. CPU work goes to the
// worker pool given at construction; with a store pool (set_store_pool), every store call the
// daemon makes through the async_ methods, the queue's polling and the scans' own steps runs
// there and is awaited, so that the io thread never waits on the database.
#pragma once

#include "common/error.h"
#include "common/metrics.h"
#include "layer/layer.h"
#include "registry/registry.h"
#include "source/source.h"
#include "store/store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace bw {

class ChunkPipe;
class Reporter;

struct ScanOptions {
  std::size_t max_concurrent_scans = 4;  // scans past this wait in the queue
  std::size_t pipe_chunks = 8;           // chunks buffered between network and worker per layer
  // Retention: finished scans kept per image reference (the newest); older ones are deleted
  // when another ends. Trends keep one result per reference and day regardless.
  std::size_t keep_scans_per_image = 20;
  LayerLimits limits;
  AnalyzeOptions analysis;  // the daemon sets analysis.secrets to the built-in catalog
  // Images (canonical references) recorded as known bases when scanned; base detection matches
  // other images' layer chains against them.
  std::vector<std::string> reference_images;
  // Whether scans may name local files ("oci:DIR", "oci-archive:FILE", "docker-archive:FILE").
  // Off in the daemon: API callers must not read the server's files. The in-process CLI and
  // tests turn it on.
  bool allow_local_sources = false;
};

// Opens the source of a scan's image; replaces the built-in choice (tests feed images from
// memory through it).
using SourceOpener = std::function<Result<std::unique_ptr<ImageSource>>(const SourceSpec& spec)>;

struct ScanRequest {
  std::string image;
  std::string platform;  // "os/arch[/variant]"; empty means linux/amd64
  std::string policy;    // JSON {"fail_under", "fail_on", "ignore"}, or empty
  // Who asked: the API request's X-Request-Id, "schedule", "cli"…; carried into the scan's log
  // lines so that a request can be followed to the scan it created.
  std::string request_id;
};

struct ScanMetrics {
  std::uint64_t scans_submitted = 0;
  std::uint64_t scans_done = 0;
  std::uint64_t scans_failed = 0;
  std::uint64_t scans_cancelled = 0;
  std::uint64_t layers_analyzed = 0;
  std::uint64_t layer_cache_hits = 0;  // layer facts reused from the store
  std::uint64_t known_rescans = 0;     // rescans answered from a stored report after the manifest
  std::uint64_t unchanged_tags = 0;    // registry-pass tags found as last scanned: no scan queued
  std::uint64_t layer_shared_fetches = 0;  // joined a fetch already under way for another scan
  std::uint64_t scan_end_notices = 0;  // ends of scans other replicas ran, announced by the store
  std::size_t queued = 0;
  std::size_t running = 0;
};

// Durations and outcomes for /metrics; observed from the io thread and the workers.
struct ScanTelemetry {
  metrics::Family finished{"bulwark_scans_finished_total",
                           "Scans that ended, by outcome (done, failed, cancelled).",
                           metrics::Type::counter,
                           {"outcome"}};
  metrics::Family duration{"bulwark_scan_duration_seconds",
                           "Time from a scan's start to its end (queueing excluded), by outcome.",
                           metrics::Type::histogram,
                           {"outcome"}};
  metrics::Family layer_duration{
      "bulwark_layer_analysis_duration_seconds",
      "Time a worker spent on one layer: inflating, walking, every analyser, the store write.",
      metrics::Type::histogram,
      {"status"}};
};

class ScanService {
 public:
  // `reporter` (may be null) builds each finished image's report.
  ScanService(boost::asio::any_io_executor io, boost::asio::thread_pool& workers, Store& store,
              RegistryClient& registry, ScanOptions options, Reporter* reporter = nullptr);
  ~ScanService();

  // Queues again the scans a previous process left running, and starts what the queue holds.
  Result<void> recover();

  // While the process runs: claims scans queued through other replicas sharing the store when
  // it has capacity, stops its scans cancelled through them, renews the leases of the scans it
  // runs, and queues again running scans whose lease lapsed (their replica died), so that no
  // scan is lost. Returns after shutdown().
  boost::asio::awaitable<void> keep_leases();

  // While the process runs, on a store other processes write: wakes the waits on scans that
  // another replica runs as each one's end commits (Store::ScanEndFeed), so that they answer
  // then instead of at their next read of the store (every 0.1 s, growing to 1 s). Returns at
  // once on a store no other process writes, and after shutdown().
  boost::asio::awaitable<void> follow_scan_ends();

  // Validates the reference (bad_reference), platform (bad_request) and registry
  // (registry_not_allowed), records the scan as queued and schedules it.
  Result<ScanRecord> submit(const ScanRequest& request);
  boost::asio::awaitable<Result<ScanRecord>> async_submit(ScanRequest request);

  // The scan with live progress merged in; nullopt when unknown.
  Result<std::optional<ScanRecord>> get(const std::string& id);
  boost::asio::awaitable<Result<std::optional<ScanRecord>>> async_get(std::string id);
  // What this process alone knows of a scan, newer than the store's row or equal to it: one
  // running here (with live progress), whose last state is not written yet, or that ended here
  // lately. No store call.
  std::optional<ScanRecord> local(const std::string& id) const;

  // The scan as async_get() gives it, once it has finished or `timeout` has passed. What the wait
  // saw last is what it returns: a scan that ends here is not read back from the store.
  boost::asio::awaitable<Result<std::optional<ScanRecord>>> wait(std::string id,
                                                                 std::chrono::milliseconds timeout);

  // Called with each scan that ends done, failed or cancelled (webhooks).
  void on_finished(std::function<void(const ScanRecord&)> f) { on_finished_ = std::move(f); }

  // Whether a scan of this image (canonical reference) is queued or running: one indexed
  // lookup in the store.
  bool pending(const std::string& image) const;
  boost::asio::awaitable<bool> async_pending(std::string image);

  // A registry pass's check of one tag, before queuing a scan of it (Store::check_tags): pending
  // while a scan of it is queued or runs here; unchanged when the registry names `head_digest`
  // for `ref` as at the reference's last scan and that scan's report and layers are current
  // under this daemon's rules and analysers. An unchanged tag is recorded as seen
  // (Store::record_unchanged), with no scan row. The checks of concurrent callers are sent to
  // the store together, one store call and one commit per batch: an unchanged tag costs the
  // HEAD request and a share of one small write.
  boost::asio::awaitable<Result<TagState>> async_check_tag(ImageRef ref, std::string head_digest);
  // Several tags' checks at once (a repository's, once each was HEADed): they join the same
  // batch, and the caller waits once for all of their answers, in order.
  struct TagHead {
    ImageRef ref;
    std::string head_digest;
  };
  boost::asio::awaitable<std::vector<Result<TagState>>> async_check_tags(std::vector<TagHead> tags);

  // Cancels a queued or running scan. not_found when unknown; finished scans stay as they are.
  Result<ScanRecord> cancel(const std::string& id);
  boost::asio::awaitable<Result<ScanRecord>> async_cancel(std::string id);

  // Stops taking work and interrupts running scans, which stay recorded as unfinished so that
  // the next start resumes them. Returns once none runs.
  boost::asio::awaitable<void> shutdown();

  ScanMetrics metrics() const;
  const ScanTelemetry& telemetry() const { return telemetry_; }
  // This process among replicas sharing a store: the owner of its leases.
  const std::string& replica_id() const { return replica_id_; }

  // Every image is read through `opener` from now on.
  void set_source_opener(SourceOpener opener) { opener_ = std::move(opener); }

  // Store calls run on `pool` from now on (the daemon's store threads); null: inline.
  void set_store_pool(boost::asio::thread_pool* pool) { store_pool_ = pool; }
  boost::asio::thread_pool* store_pool() const { return store_pool_; }

  // Fails every layer transfer still open so that no worker stays blocked on one. For use after
  // the io_context has stopped, before the worker pool is joined.
  void abort_transfers();

  // How many ended layer fetches are remembered: a scan whose first look is older than that
  // many fetches reads the store again for each layer before fetching it.
  static constexpr std::size_t kEndedJobsKept = 256;
  // How many of the scans that ended here are answered from memory (local()).
  static constexpr std::size_t kEndsKept = 256;

 private:
  struct Live;
  struct LayerJob;
  struct TagCheckWait;
  // Sends the tag checks waiting, in batches, until none is left.
  boost::asio::awaitable<void> send_tag_checks();
  Result<std::unique_ptr<ImageSource>> open_source(const SourceSpec& spec);
  // submit()'s steps before and after the store's write.
  Result<ScanRecord> prepare(const ScanRequest& request) const;
  void queued(const ScanRecord& rec);
  // cancel() of a scan running here; nullopt when it does not run here.
  std::optional<ScanRecord> cancel_local(const std::string& id);
  // cancel()'s end once the store answered: what it had, and the scan as stored now.
  Result<ScanRecord> cancelled(const std::string& id, std::optional<ScanStatus> was,
                               const std::optional<ScanRecord>& stored);
  // Whether a scan of `image` runs in this process.
  bool running_here(const std::string& image) const;
  void pump();
  // pump() with a store pool: claims on the pool, starts here, again while asked meanwhile.
  boost::asio::awaitable<void> claim_queued();
  // The store's queue depth, read on the store pool; metrics() serves the last one read.
  boost::asio::awaitable<bool> refresh_queue_depth();  // false: the store did not answer
  // Runs a scan this replica claimed from the store's queue.
  void start(const ScanRecord& claimed);
  // Starts scans a claim returned (back to the queue if the server is stopping).
  void start_claimed(std::vector<ScanRecord> claimed);
  // Running scans in the store that no live replica holds, queued again: at start-up
  // (adopt_orphans, before the API serves) and at every lease renewal (keep_leases, its store
  // calls on the store pool). Each is adopted under its lease taken by adopt_owner().
  Result<void> adopt_orphans();
  // Of `running` (as read from the store), those no scan of this process accounts for.
  std::vector<ScanRecord> orphan_candidates(const std::vector<ScanRecord>& running) const;
  // Not replica_id_: a scan this process claimed and has not started yet holds its lease under
  // replica_id_, so the adoption's lease is refused and the scan is not taken for an orphan.
  std::string adopt_owner() const { return replica_id_ + "/adopt"; }
  // Of `candidates`, those whose lease adopt_owner() took (store calls).
  std::vector<ScanRecord> take_adoption_leases(std::vector<ScanRecord> candidates);
  void release_adoption_leases(const std::vector<std::string>& ids);
  // The adopted scans (their leases taken) queued again; returns their ids, for the leases'
  // release once they are.
  std::vector<std::string> requeue(std::vector<ScanRecord> adopted);
  // An end announced by the store: the waits on that scan answer now, from the record it came
  // with, or else by reading it.
  void ended_elsewhere(Store::ScanEnd end);
  // Whether an end of `id` was announced since its wait read the store (and forgets it).
  bool take_ended_elsewhere(const std::string& id);
  // Scans running here that a caller cancelled through another replica.
  boost::asio::awaitable<void> notice_remote_cancels();
  boost::asio::awaitable<void> run(std::shared_ptr<Live> live);
  boost::asio::awaitable<Result<void>> execute(Live& live);
  boost::asio::awaitable<Result<void>> execute_all(Live& live);
  // A scan's end written with what it found (Live::found), in one transaction.
  boost::asio::awaitable<Result<void>> end_with_findings(Live& live);
  // A scan state written now (no store pool): with what it found when it ended done so.
  Result<void> write_end(const ScanRecord& rec);
  // `first_look`: the layer's stored meta as read with the image's others.
  boost::asio::awaitable<Result<void>> ensure_layer(Live& live, std::size_t index,
                                                    std::optional<LayerMeta> first_look);
  // Ends a scan whose manifest already has a current report: the verdict from it, the tag
  // moved; nothing fetched.
  boost::asio::awaitable<Result<void>> finish_known(Live& live, const nlohmann::json& report);
  boost::asio::awaitable<Result<LayerFacts>> fetch_and_analyze(Live& live, std::size_t index);
  void finish(Live& live, const Result<void>& outcome);
  void persist(const Live& live);
  // persist() once the scan has run for a moment: one that ends sooner writes only its end.
  void persist_later(const std::string& id);
  void save(ScanRecord rec);
  // Writes what save() left in unsaved_, in the background on the store pool: at once, then
  // with a growing pause while the store refuses (a full disk).
  boost::asio::awaitable<void> write_unsaved();
  // After a finished scan is written: its image's older scans beyond the retention count.
  void prune(const ScanRecord& finished);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& workers_;
  Store& store_;
  RegistryClient& registry_;
  ScanOptions options_;
  Reporter* reporter_;
  std::function<void(const ScanRecord&)> on_finished_;
  SourceOpener opener_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Live>> live_;  // running here, by id
  // Waits on scans not running here, by id: woken when this replica starts one (start()).
  std::multimap<std::string, std::shared_ptr<boost::asio::steady_timer>> remote_waiters_;
  std::vector<std::shared_ptr<TagCheckWait>> tag_checks_;  // waiting for send_tag_checks()
  bool sending_tag_checks_ = false;
  std::map<std::string, std::shared_ptr<LayerJob>> jobs_;  // layer fetches under way, by digest
  // The layer fetches that ended here, numbered, the last kEndedJobsKept of them: a scan's first
  // look at its layers (and the lease it took with it) is stale for a layer whose fetch ended
  // after it, and the store is read again instead.
  std::deque<std::pair<std::uint64_t, std::string>> ended_jobs_;
  std::uint64_t layer_jobs_ended() const {
    return ended_jobs_.empty() ? 0 : ended_jobs_.back().first;
  }
  bool ended_since(const std::string& digest, std::uint64_t since) const;
  std::map<std::string, std::weak_ptr<ChunkPipe>> pipes_;  // their pipes, by digest
  std::size_t running_ = 0;
  ScanMetrics metrics_;
  ScanTelemetry telemetry_;
  std::string replica_id_;
  boost::asio::steady_timer lease_tick_;  // keep_leases' wait; cancelled by shutdown()
  // follow_scan_ends' wait on the feed's socket, and before another feed; cancelled by
  // shutdown().
  std::shared_ptr<boost::asio::posix::stream_descriptor> scan_end_wait_;
  boost::asio::steady_timer scan_end_retry_;
  // Ends announced lately (at most kEndsKept): a wait whose store read crossed one sees it here
  // before it sleeps.
  std::deque<std::string> ended_elsewhere_;
  // Set at shutdown; workers' analyses read it at every entry and read, so no worker outlives
  // the grace period by more than one step.
  std::atomic<bool> cancel_analysis_{false};
  // Scan states the store refused (disk full), by id, retried until written.
  std::map<std::string, ScanRecord> unsaved_;
  std::map<std::string, std::uint64_t> unsaved_serial_;  // bumped by each save() of the id
  // What a done scan in unsaved_ found, written with its end (the store refused both at once).
  std::map<std::string, ScannedImage> unsaved_found_;
  std::uint64_t save_serial_ = 0;
  bool retry_armed_ = false;
  // The last kEndsKept scans that ended here, as written, or elsewhere, as announced: a client
  // polling for a scan's end (`bulwark scan`'s GET ?wait) is answered without a store read. An end
  // is final; only the image's retention can remove the row meanwhile, after keep_scans_per_image
  // newer scans.
  std::map<std::string, ScanRecord> recent_ends_;
  std::deque<std::string> recent_end_order_;
  void remember_end(ScanRecord rec);
  boost::asio::thread_pool* store_pool_ = nullptr;
  bool claiming_ = false;    // claim_queued() runs
  bool pump_again_ = false;  // pump() was asked while it ran
  // Slots that claims in flight (a poll's, or with a submit or a scan's end) may fill, until
  // what they claimed is started: each claim takes only what the others leave, so no more scans
  // start than there are slots.
  std::size_t claim_reserved_ = 0;
  std::size_t ending_ = 0;  // running scans whose end is being written: their slots are free
  // The slots a claim may fill now.
  std::size_t free_slots() const;
  std::size_t store_queued_ = 0;  // with a store pool: the store's queue depth as last read
};

// Parses `text` as a scan id ("scan_" + 32 hex). Used by the API to refuse junk early.
bool is_scan_id(std::string_view text);

}  // namespace bw
