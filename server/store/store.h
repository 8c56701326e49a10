// The store speaks in the product's terms (layer facts, images, scans); no SQLite type leaks
// out, so a second backend (PostgreSQL) is a new implementation of Store, not a rewrite.
//
// Thread-safe: implementations serialise access internally.
#pragma once

#include "common/error.h"
#include "layer/layer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bw {

struct LayerRecord {
  std::string digest;  // compressed blob digest: the key
  std::string media_type;
  int analyzer_version = 0;
  std::string analyzed_at;
  LayerFacts facts;
};

// A layer's record as read: shared, never copied. A base layer's facts (hundreds of files with
// their ELF facts) are read for every image built on it; each copy cost more than the rest of
// its report (bench/replicas_bench.sh, under perf). Null: not stored.
using SharedLayerRecord = std::shared_ptr<const LayerRecord>;

struct ImageLayerRef {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string diff_id;  // from the config's rootfs.diff_ids
};

struct ImageRecord {
  std::string manifest_digest;  // the key
  std::string media_type;
  std::string config_digest;
  std::string os;
  std::string architecture;
  std::string variant;
  std::string created;
  std::string user;
  std::string config;                 // config JSON as fetched
  std::string manifest;               // manifest JSON as fetched
  std::vector<ImageLayerRef> layers;  // bottom-up
};

struct TagRecord {
  std::string registry;
  std::string repository;
  std::string tag;
  std::string manifest_digest;
};

enum class ScanStatus : std::uint8_t { queued, running, done, failed, cancelled };
std::string_view scan_status_name(ScanStatus s);
std::optional<ScanStatus> parse_scan_status(std::string_view name);
// done, failed or cancelled: the scan will not change again.
bool is_finished(ScanStatus s);
// JSON holds the name, never the number.
inline void to_json(nlohmann::json& j, ScanStatus s) {
  j = scan_status_name(s);
}

struct ScanRecord {
  std::string id;
  std::string image;     // the reference as given, normalised
  std::string platform;  // "linux/amd64"
  ScanStatus status = ScanStatus::queued;
  std::string manifest_digest;
  std::string index_digest;
  std::string error_code;
  std::string error_message;
  std::string progress;  // JSON
  std::string created_at;
  std::string started_at;
  std::string finished_at;
  std::string policy;  // JSON {"fail_under", "fail_on", "ignore"}, or empty
  std::string result;  // JSON {"score","grade","verdict","reasons"} once done, or empty
  // Who asked (the API request's X-Request-Id, "schedule"…), so that whichever replica runs
  // the scan logs it.
  std::string request_id;
};

struct ReportRecord {
  std::string manifest_digest;
  std::string ruleset_version;
  std::string image_ref;
  int score = 0;
  std::string grade;
  std::string report;  // JSON
  // Kept in the image's summary so that dashboards never read reports: the detected base's
  // name ("" when none), whether an unsuppressed BW-OS-EOL finding stands, the unsuppressed
  // findings' count per severity (JSON object) and the first of the highest severity (JSON
  // {"rule_id", "title", "severity"}, or "" when none).
  std::string base;
  bool eol_os = false;
  std::string severity_counts;
  std::string top_finding;
};

// A Suppression (rules/rules.h) as stored, with when it was made.
struct SuppressionRecord {
  std::string rule_id;
  std::string path;
  std::string env_key;
  std::string reason;
  std::string created_at;  // set by the store
  std::string image;       // scope: "" every image
  std::string expires;     // YYYY-MM-DD, or "" never
};

// An image reference's last judged result on one day, for trends.
struct ScanResultRow {
  std::string finished_at;  // RFC 3339: the day's last scan that ended done
  std::string image;        // the reference scanned, normalised
  std::string manifest_digest;
  int score = 0;
  std::string grade;
  std::size_t scans = 1;  // scans of the reference that ended done that day
};

// The fleet at the end of a day on which results were recorded: every image reference at its
// latest result to that day.
struct FleetDay {
  std::string day;  // YYYY-MM-DD
  std::size_t images = 0;
  std::size_t scans = 0;  // results recorded that day
  std::int64_t score_sum = 0;
  int min_score = -1;  // -1: no image
  std::map<std::string, std::size_t> grades;
};

struct ScanQuery {
  std::optional<ScanStatus> status;  // nullopt: any
  std::string image;                 // empty: any
  std::size_t limit = 50;
  std::string before_id;  // cursor: scans created before this one
};

struct ImageQuery {
  std::string ruleset_version;  // scores and grades from reports under this ruleset
  std::string registry;         // filters; empty: any
  std::string repository;
  std::string grade;
  int min_score = -1;
  int max_score = -1;
  std::string since;   // last scanned at or after (RFC 3339)
  std::string search;  // a case-insensitive part of "registry/repository:tag"; empty: any
  std::string sort = "-last_scanned";  // last_scanned | -last_scanned | score | -score
  std::size_t limit = 50;
  // Keyset cursor: rows after (in the sort's order) the one whose sort key and digest these
  // are; empty after_digest: from the first. See image_cursor().
  std::string after_key;
  std::string after_digest;
};

struct ImageRow {
  std::string manifest_digest;
  std::string platform;
  // The newest tag that named it; tag "" once that tag names another image of its platform.
  std::string registry, repository, tag;
  std::string last_scanned;
  int score = -1;  // -1: no report under the query's ruleset yet
  std::string grade;
  int sort_score = -1;          // the stored score whatever its ruleset: the score sort's key
  std::string severity_counts;  // as in ReportRecord, "" without a report under the ruleset
  std::string top_finding;
};

// The cursor that continues a listing after `row` in `sort`'s order ("KEY,DIGEST"), and its
// parse into the query (false when it is not one this store made).
std::string image_cursor(const ImageRow& row, const std::string& sort);
bool parse_image_cursor(std::string_view cursor, const std::string& sort, ImageQuery& q);

struct RepositoryRow {
  std::string registry, repository;
  std::size_t tags = 0;
  std::string last_seen;
};

struct TagRow {
  std::string tag, manifest_digest, first_seen, last_seen;
  int score = -1;
  std::string grade;
};

// What a registry pass compares a tag with: the newest done scan of a reference on one
// platform, when its manifest has a report under the current rules.
struct KnownResult {
  std::string manifest_digest;
  std::string index_digest;         // the index the reference named, or empty
  std::vector<std::string> layers;  // the manifest's layer digests, bottom-up
};

// A tag a registry pass found naming `head_digest` (a manifest's, or an index's for a
// multi-platform tag), to be compared with the tag's last scan.
struct TagCheck {
  std::string image;  // canonical reference
  std::string head_digest;
  std::optional<TagRecord> tag;
};

// What a registry pass does with a tag: nothing while a scan of it is queued or running; nothing
// more once recorded as unchanged; otherwise a scan.
enum class TagState { pending, unchanged, changed };

// What the scan path needs to know of a stored layer, without its facts.
struct LayerMeta {
  int analyzer_version = 0;
  std::string diff_id;
  LayerStatus status = LayerStatus::complete;
  std::map<std::string, int> analyzer_versions;  // empty for layers stored before they were kept
};

// A LayerMeta from a stored row's columns, as both backends keep them: the status by name (an
// unknown one reads as complete), the analysers as a JSON object of versions.
LayerMeta layer_meta_from(int analyzer_version, std::string diff_id, std::string_view status,
                          std::string_view analyzer_versions_json);

// A webhook delivery (notify/webhooks.h) as a row: one per event and URL, so that a restart, or
// another replica, resumes what was pending and nothing is delivered twice. Times are Unix
// milliseconds.
struct DeliveryRecord {
  std::int64_t id = 0;
  std::string event_key;  // "<scan id>/<event>": with url, what makes a delivery unique
  std::string event;      // "scan.done", "scan.failed", "scan.cancelled"
  std::string url;
  std::string body;
  std::string state = "pending";  // pending, delivered, dead (every attempt failed)
  int attempts = 0;
  std::int64_t next_at_ms = 0;  // when a pending one is due
  std::string last_error;       // the last failed attempt's ("HTTP 503", "connection refused")
  std::int64_t created_at_ms = 0, updated_at_ms = 0;
};

// A layer's fetch lease asked for: whether this owner holds it now, and the layer as stored
// after the lease was taken (another replica may have stored it meanwhile).
struct LayerLease {
  bool leased = false;
  std::optional<LayerMeta> stored;
};

struct ReportContext {
  std::vector<SuppressionRecord> suppressions;
  std::vector<std::pair<std::string, std::string>> reference_images;  // (name, manifest digest)
  std::vector<std::string> tags;                                      // as image_tags()
};

// What a report reads from the store: the layers it was not handed, in order, and its context.
struct ReportSources {
  std::vector<SharedLayerRecord> layers;
  ReportContext context;
};

// What a scan's first look asks of the store besides the report and the layers' metas, so that
// a scan of a new image makes one trip (one commit) before it fetches.
struct LookupAsk {
  // A layer `current` does not accept needs fetching: the first such one that `fetchable` allows
  // (not foreign, no fetch of it already running in this process) is leased for `owner`, as
  // lease_layer would. An empty owner leases nothing.
  std::string owner;
  std::chrono::seconds ttl{0};
  std::vector<bool> fetchable;                    // per layer asked; missing entries: not fetchable
  std::function<bool(const LayerMeta&)> current;  // unset: any stored layer is current
  // With no report under the ruleset, what its report will be built from: the records of the
  // stored layers `current` accepts, and the report's context (report_sources).
  bool sources = false;
};

// What a scan knows of a manifest before it fetches anything: its report under the current
// rules, if any, and each of its layers as stored (nullopt: not stored), in order; with a
// LookupAsk, the lease it asked for and the report's sources.
struct ImageLookup {
  std::optional<ReportRecord> report;
  std::vector<std::optional<LayerMeta>> layers;
  std::optional<std::size_t> leased_index;  // the layer asked for, if any needed fetching
  LayerLease lease;                         // its answer
  std::optional<ReportSources> sources;     // layers by position, nullopt where not read
};

// The layer `ask` leases among `layers` as looked up (nullopt: none needs fetching or may be
// fetched), and whether a stored layer is one `ask` accepts as current.
std::optional<std::size_t> layer_to_lease(const std::vector<std::optional<LayerMeta>>& layers,
                                          const LookupAsk& ask);
bool accepted(const std::optional<LayerMeta>& layer, const LookupAsk& ask);

// check_tags' reads for one tag, through `reads` (a Store, or a backend's one connection):
// its state, and for an unchanged one the manifest digest its last scan found, to be recorded
// as seen with the tag as seen_tag() names it.
struct TagComparison {
  TagState state = TagState::changed;
  std::string manifest_digest;
};
template <class Reads>
Result<TagComparison> compare_tag(Reads& reads, const TagCheck& tag, const std::string& platform,
                                  const std::string& ruleset_version,
                                  const std::function<bool(const LayerMeta&)>& current) {
  auto pending = reads.has_pending_scan(tag.image);
  if (!pending) return pending.error();
  if (*pending) return TagComparison{TagState::pending, {}};
  auto known = reads.known_result(tag.image, platform, ruleset_version);
  if (!known) return known.error();
  if (!*known) return TagComparison{};
  const KnownResult& k = **known;
  if (tag.head_digest.empty() ||
      tag.head_digest != (k.index_digest.empty() ? k.manifest_digest : k.index_digest))
    return TagComparison{};
  auto metas = reads.get_layer_metas(k.layers);
  if (!metas) return metas.error();
  for (auto& m : *metas)
    if (!m || (current && !current(*m))) return TagComparison{};
  return TagComparison{TagState::unchanged, k.manifest_digest};
}
std::optional<TagRecord> seen_tag(const TagCheck& tag, const std::string& manifest_digest);
// check_tags' loop: each tag compared through `reads`, an unchanged one recorded by
// `record(image, manifest_digest, tag)` (false: not stored, so changed after all).
template <class Reads, class Record>
Result<std::vector<TagState>> check_tags_with(Reads& reads, const std::vector<TagCheck>& tags,
                                              const std::string& platform,
                                              const std::string& ruleset_version,
                                              const std::function<bool(const LayerMeta&)>& current,
                                              Record&& record) {
  std::vector<TagState> out;
  for (auto& t : tags) {
    auto c = compare_tag(reads, t, platform, ruleset_version, current);
    if (!c) return c.error();
    if (c->state == TagState::unchanged) {
      Result<bool> seen = record(t.image, c->manifest_digest, seen_tag(t, c->manifest_digest));
      if (!seen) return seen.error();
      if (!*seen) c->state = TagState::changed;
    }
    out.push_back(c->state);
  }
  return out;
}

// For stores answering `ask.sources`: the digests whose records to read (the stored layers
// `ask` accepts, in order), and those records (as read for those digests) put in place.
std::vector<std::string> source_digests(const ImageLookup& look,
                                        const std::vector<std::string>& layer_digests,
                                        const LookupAsk& ask);
void place_sources(ImageLookup& look, std::vector<SharedLayerRecord> records, ReportContext context,
                   const LookupAsk& ask);

// The queued scans a replica with free slots takes as one of its scans ends, in the same
// transaction (as claim_queued_scans would): limit 0 takes none.
struct ClaimNext {
  std::size_t limit = 0;
  std::chrono::seconds ttl{0};
  std::string started_at;
};

// What a scan that analysed an image writes with its end.
struct ScannedImage {
  ImageRecord image;
  std::optional<TagRecord> tag;
  std::optional<ReportRecord> report;  // none without a reporter
  std::string reference_name;          // not empty: the image is that reference image now
};

class Store {
 public:
  virtual ~Store() = default;

  // Cheap (no facts are read): whether a layer is stored, at which analyser version, and what
  // it decompressed to.
  virtual Result<std::optional<LayerMeta>> get_layer_meta(const std::string& digest) = 0;

  virtual Result<SharedLayerRecord> get_layer(const std::string& digest) = 0;
  // As get_layer_meta and get_layer for each digest, in order: one round trip to a database
  // server rather than one per layer.
  virtual Result<std::vector<std::optional<LayerMeta>>> get_layer_metas(
      const std::vector<std::string>& digests);
  virtual Result<std::vector<SharedLayerRecord>> get_layers(
      const std::vector<std::string>& digests);
  // get_report and get_layer_metas together, then what `ask` asks for (a lease, the report's
  // sources): one transaction on a database server.
  virtual Result<ImageLookup> lookup_image(const std::string& manifest_digest,
                                           const std::string& ruleset_version,
                                           const std::vector<std::string>& layer_digests,
                                           const LookupAsk& ask = {});
  // acquire_lease("layer:<digest>") and, when taken, get_layer_meta read after it: one
  // transaction.
  virtual Result<LayerLease> lease_layer(const std::string& digest, const std::string& owner,
                                         std::chrono::seconds ttl);
  // Inserts or replaces a layer's facts in one transaction. The fetch lease "layer:<digest>"
  // ends with it, whoever held it: the facts are what its waiters wait for.
  virtual Result<void> put_layer(const LayerRecord& layer) = 0;

  // Inserts or replaces the image and its ordered layers, and records the tag (if any) as
  // pointing at it now. One transaction. REQUIRES: every layer is stored.
  virtual Result<void> put_image(const ImageRecord& image, const std::optional<TagRecord>& tag) = 0;
  virtual Result<std::optional<ImageRecord>> get_image(const std::string& manifest_digest) = 0;
  // A known image seen again: its summary's last-scanned time and the tag (if any) as pointing
  // at it now, without rewriting the image or its layers. false when the image is not stored.
  virtual Result<bool> touch_image(const std::string& manifest_digest,
                                   const std::optional<TagRecord>& tag) = 0;

  // The newest scan of `image` (canonical reference) on `platform` that ended done, when its
  // manifest has a report under `ruleset_version`; nullopt otherwise. Indexed lookups.
  virtual Result<std::optional<KnownResult>> known_result(const std::string& image,
                                                          const std::string& platform,
                                                          const std::string& ruleset_version) = 0;
  // A reference the registry still serves as at its last scan: the image touched as by
  // touch_image, and the reference counted in today's trend row with its summary's score and
  // grade. No scan row is written. false when the image is not stored.
  virtual Result<bool> record_unchanged(const std::string& image,
                                        const std::string& manifest_digest,
                                        const std::optional<TagRecord>& tag) = 0;
  // For each tag, in order: pending when has_pending_scan; unchanged when known_result (on
  // `platform`, under `ruleset_version`) names its head digest and every layer is stored and
  // accepted by `current`, and it is then recorded as by record_unchanged; changed otherwise.
  // SQLite and PostgreSQL answer the whole batch in one transaction, so that a registry pass
  // commits once per batch of tags; the default records each unchanged tag in a transaction of
  // its own.
  virtual Result<std::vector<TagState>> check_tags(
      const std::vector<TagCheck>& tags, const std::string& platform,
      const std::string& ruleset_version, const std::function<bool(const LayerMeta&)>& current);

  // Inserts or updates by id. A finished scan (done, failed, cancelled) is never changed again:
  // updating one does nothing, so a replica's late write cannot undo another's cancel.
  virtual Result<void> put_scan(const ScanRecord& scan) = 0;
  // The queue shared by every replica of a store: takes up to `limit` queued scans, oldest
  // first, marks them running since `started_at` and leases them ("scan:<id>") to `owner` for
  // `ttl`, in one transaction. Concurrent claims never return the same scan.
  virtual Result<std::vector<ScanRecord>> claim_queued_scans(const std::string& owner,
                                                             std::chrono::seconds ttl,
                                                             std::size_t limit,
                                                             const std::string& started_at) = 0;
  // A new scan queued, and with `next`, the owner's next queued scans (the new one among them,
  // oldest first) claimed by the same transaction and returned: a replica with room submits and
  // starts in one commit. A claim that fails leaves the scan queued and returns none.
  virtual Result<std::vector<ScanRecord>> submit_scan(const ScanRecord& queued,
                                                      const std::string& owner,
                                                      const ClaimNext& next);
  // Cancels a queued or running scan in the store (the replica running it notices at its next
  // lease renewal). Returns the status it had; nullopt when unknown or already finished.
  virtual Result<std::optional<ScanStatus>> cancel_scan(const std::string& id,
                                                        const std::string& finished_at) = 0;
  virtual Result<std::optional<ScanRecord>> get_scan(const std::string& id) = 0;
  // Newest first.
  virtual Result<std::vector<ScanRecord>> list_scans(const ScanQuery& query) = 0;
  // Whether a scan of `image` (canonical reference) is queued or running: one indexed lookup,
  // whatever the history.
  virtual Result<bool> has_pending_scan(const std::string& image) = 0;
  // Retention: deletes the finished scans of `image` but its newest `keep`. Trends keep their
  // daily results. Returns how many were deleted.
  virtual Result<std::size_t> prune_scans(const std::string& image, std::size_t keep) = 0;
  // A scan's end, written once: put_scan of the finished `scan`, prune_scans of its image to
  // `keep`, and the release of `owner`'s lease "scan:<id>", in one transaction.
  // REQUIRES: is_finished(scan.status).
  virtual Result<void> finish_scan(const ScanRecord& scan, std::size_t keep,
                                   const std::string& owner) = 0;
  // The end of a scan that analysed an image: put_image (with its tag), put_report,
  // put_reference_image when named, and finish_scan, in one transaction, so that a scan's
  // findings and its end are one commit and a reader never sees one without the other.
  // With `next`, the owner's next queued scans are claimed by the same transaction and returned.
  // REQUIRES: scan.status is done; every layer of the image is stored.
  virtual Result<std::vector<ScanRecord>> finish_image_scan(const ScannedImage& found,
                                                            const ScanRecord& scan,
                                                            std::size_t keep,
                                                            const std::string& owner,
                                                            const ClaimNext& next) = 0;

  // Scans that ended done with a judged result, finished at or after `since` (RFC 3339), whose
  // image reference starts with `image_prefix` (empty: any), oldest first.
  virtual Result<std::vector<ScanResultRow>> list_scan_results(const std::string& since,
                                                               const std::string& image_prefix) = 0;

  // The fleet's trend: the days from `since` (YYYY-MM-DD) on which results were recorded,
  // oldest first, led by the last such day before `since` (the state the window opens with),
  // if any. Rows kept on write: the read costs the days, whatever the number of images.
  virtual Result<std::vector<FleetDay>> fleet_days(const std::string& since) = 0;

  // Images with no report under `ruleset_version` (every image when it is empty), newest
  // scanned first: what a rules change leaves to re-score. Reads no report.
  virtual Result<std::vector<std::string>> list_image_digests(
      const std::string& unreported_under) = 0;
  // How many scans have `status`, across every replica sharing the store.
  virtual Result<std::uint64_t> count_scans(ScanStatus status) = 0;
  virtual Result<std::vector<ImageRow>> list_images(const ImageQuery& q) = 0;
  virtual Result<std::vector<RepositoryRow>> list_repositories(const std::string& registry,
                                                               std::size_t limit,
                                                               std::size_t offset) = 0;
  // Every digest a tag has named, newest first, with scores under `ruleset_version`.
  virtual Result<std::vector<TagRow>> list_tags(const std::string& registry,
                                                const std::string& repository,
                                                const std::string& ruleset_version) = 0;
  // Counts for /v1/stats: images, layers, bytes analysed, scans by status, images by grade.
  // Read from indexes and summaries, never from reports or facts.
  virtual Result<nlohmann::json> stats(const std::string& ruleset_version) = 0;

  // Changes with every write this process makes, when this process is the store's only
  // writer (SQLite): an answer built from the store at one generation is the same at that
  // generation, so a conditional GET can be answered with no query. nullopt when other
  // processes write too (PostgreSQL replicas).
  virtual std::optional<std::string> generation() const = 0;

  // The query plans of the statements dashboards run (list, stats, trends, pending), one line
  // per step, so that tests can hold them to indexes: EXPLAIN QUERY PLAN / EXPLAIN.
  virtual Result<std::vector<std::string>> dashboard_query_plans(
      const std::string& ruleset_version) = 0;

  virtual Result<void> put_report(const ReportRecord& report) = 0;
  virtual Result<std::optional<ReportRecord>> get_report(const std::string& manifest_digest,
                                                         const std::string& ruleset_version) = 0;
  // The newest report of an image under any ruleset (to re-score with its reference).
  virtual Result<std::optional<ReportRecord>> latest_report(const std::string& manifest_digest) = 0;
  // Drops every report (they are rebuilt from facts on demand).
  virtual Result<void> clear_reports() = 0;
  // The reference an image was last seen as, from its summary: "registry/repository:tag", or
  // "registry/repository@digest" once that tag names another image; "" when never tagged. What
  // a report is rebuilt for when none is left to take it from (the tag's rules need it).
  virtual Result<std::string> image_name(const std::string& manifest_digest) = 0;
  // Every "registry/repository:tag" the image was recorded under, newest first (at most 100):
  // the names scoped suppressions are matched against.
  virtual Result<std::vector<std::string>> image_tags(const std::string& manifest_digest) = 0;

  virtual Result<std::vector<SuppressionRecord>> list_suppressions() = 0;
  // Replaces all suppressions and drops reports, in one transaction.
  virtual Result<void> replace_suppressions(const std::vector<SuppressionRecord>& s) = 0;

  virtual Result<void> put_reference_image(const std::string& name,
                                           const std::string& manifest_digest) = 0;
  // (name, manifest digest) pairs.
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_reference_images() = 0;
  // What a report of `manifest_digest` reads besides its layers (list_suppressions,
  // list_reference_images, image_tags): one round trip to a database server.
  virtual Result<ReportContext> report_context(const std::string& manifest_digest);
  // get_layers(layer_digests) and report_context(manifest_digest) from one snapshot: one
  // transaction on a database server.
  virtual Result<ReportSources> report_sources(const std::string& manifest_digest,
                                               const std::vector<std::string>& layer_digests);

  // A lease on `key` ("layer:<digest>", "leader:scheduler") for `owner`, for `ttl`: true when
  // taken or renewed, false while another owner's unexpired lease stands. Replicas sharing one
  // database use it to fetch and analyse each layer once and to elect one scheduler. A process
  // that dies simply stops renewing: its leases lapse after `ttl`.
  virtual Result<bool> acquire_lease(const std::string& key, const std::string& owner,
                                     std::chrono::seconds ttl) = 0;
  virtual Result<void> release_lease(const std::string& key, const std::string& owner) = 0;

  // Webhook deliveries. enqueue_delivery adds `d` (pending) unless the same event already has a
  // delivery to the same URL; true when added.
  virtual Result<bool> enqueue_delivery(const DeliveryRecord& d) = 0;
  // Up to `limit` pending deliveries due at `now_ms`, oldest first, claimed for `owner` until
  // now_ms + hold_ms; a claim of another owner in force is skipped, a lapsed one (its replica
  // died mid-attempt) is taken over.
  virtual Result<std::vector<DeliveryRecord>> claim_deliveries(const std::string& owner,
                                                               std::int64_t now_ms,
                                                               std::int64_t hold_ms,
                                                               std::size_t limit) = 0;
  // Records an attempt (d's state, attempts, next_at_ms, last_error and updated_at_ms) and
  // ends `owner`'s claim on it; deliveries that ended before `prune_before_ms` go.
  virtual Result<void> finish_delivery(const DeliveryRecord& d, const std::string& owner,
                                       std::int64_t prune_before_ms) = 0;
  // Newest first, with an id below `before_id` (0: from the newest), in `state` (empty: any).
  virtual Result<std::vector<DeliveryRecord>> list_deliveries(const std::string& state,
                                                              std::int64_t before_id,
                                                              std::size_t limit) = 0;

  // Versions of the applied schema migrations, ascending.
  virtual Result<std::vector<int>> schema_versions() = 0;
  // "ok" when the database is intact (PRAGMA integrity_check).
  virtual Result<std::string> integrity_check() = 0;

  // Ends of scans that other processes sharing the store write, as each commits: a replica
  // waiting on a scan another replica runs is woken by its end instead of reading the store
  // again and again.
  struct ScanEnd {
    std::string id;  // empty: an announcement this store could not read
    // The scan as it ended, when the announcement carries it (not for a cancel of a queued scan
    // or a record too long to announce): the waiting replica need not read it back.
    std::optional<ScanRecord> record;
  };
  class ScanEndFeed {
   public:
    virtual ~ScanEndFeed() = default;
    // Readable when ends have arrived; the feed keeps it open.
    virtual int socket() const = 0;
    // The scans whose end arrived since the last call, read without blocking; an error once
    // the feed is broken (open another).
    virtual Result<std::vector<ScanEnd>> take() = 0;
  };
  // A new feed (a connection of its own), or null where no other process writes the store
  // (SQLite).
  virtual Result<std::unique_ptr<ScanEndFeed>> open_scan_end_feed() {
    return std::unique_ptr<ScanEndFeed>();
  }

  // Layer facts read and written since the store was opened (each a whole facts document).
  struct Counters {
    std::uint64_t layer_reads = 0;
    std::uint64_t layer_writes = 0;
    std::uint64_t layer_cache_hits = 0;  // layer records read unchanged from memory
  };
  virtual Counters counters() const = 0;
};

struct StoreOptions {
  std::string path;  // database file; created with its directory if missing
  int busy_timeout_ms = 5000;
  // Reader connections (WAL lets them read while the writer writes): at least as many as the
  // threads that read the store at once (the daemon's store threads, report builds on the
  // workers, the scan path's checks); a read past them waits for one to be free.
  std::size_t readers = 8;
};

// Opens (creating if needed) the SQLite store and applies pending migrations from the
// embedded schema/NNN_name.sql files, each in its own transaction.
Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options);

// Opens a PostgreSQL store (`url`: postgresql://user@host:port/db; the password from the URL,
// PGPASSWORD or a password file, as libpq reads them) and applies pending migrations from
// schema/postgres/, under an advisory lock so that replicas starting together apply each once.
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url);

// The store a daemon's `store` setting names: empty is the embedded default (SQLite under
// `data_dir`), "sqlite:PATH", or a postgresql:// URL.
Result<std::unique_ptr<Store>> open_store(const std::string& url, const std::string& data_dir);
// Copies every row of a SQLite store into a new, empty PostgreSQL store (bulwarkd
// migrate-store), in one transaction: on any failure the target keeps nothing. Returns the rows
// copied per table.
Result<std::map<std::string, std::size_t>> copy_sqlite_to_postgres(const std::string& sqlite_path,
                                                                   const std::string& pg_url);
// The same, for logs: the password masked.
std::string store_description(const std::string& url, const std::string& data_dir);

}  // namespace bw
