#include "common/embedded.h"
#include "common/log.h"
#include "common/time_util.h"
#include "store/detail/connection_pool.h"
#include "store/detail/layer_cache.h"
#include "store/detail/pg.h"
#include "store/detail/pg_layer_reads.h"
#include "store/detail/queries.h"
#include "store/detail/scan_end_notice.h"
#include "store/store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

namespace bw {

namespace pg_schema_files {
// schema/postgres/*.sql, embedded by the build.
std::span<const EmbeddedFile> files();
}  // namespace pg_schema_files

namespace {

using detail::LayerCache;
using pg::Connection;
using pg::Param;
using pg::Rows;

std::string num(std::int64_t v) {
  return std::to_string(v);
}

Param opt(const std::string& v) {
  return v.empty() ? Param() : Param(v);
}

// Takes or renews lease $1 for owner $2 for $3 seconds: a row back when this owner holds it.
constexpr std::string_view kAcquireLease =
    "INSERT INTO leases(key, owner, expires_at) VALUES ($1, $2, now() + $3::int * interval "
    "'1 second') ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = "
    "excluded.expires_at WHERE leases.owner = excluded.owner OR leases.expires_at < now() "
    "RETURNING owner";

// The channel a scan's end is announced on (NOTIFY: sent when the transaction that ends it
// commits, to every session LISTENing), the payload detail::scan_end_notice(). bulwark_end_scan
// (schema/postgres/019_scan_end_statements.sql) names it too.
constexpr const char* kScanEndChannel = "bulwark_scan_ends";

class PgScanEndFeed : public Store::ScanEndFeed {
 public:
  explicit PgScanEndFeed(Connection c) : c_(std::move(c)) {}
  int socket() const override { return c_.socket(); }
  Result<std::vector<Store::ScanEnd>> take() override {
    auto payloads = c_.notifications();
    if (!payloads) return payloads.error();
    std::vector<Store::ScanEnd> out;
    for (auto& p : *payloads) out.push_back(detail::parse_scan_end_notice(p));
    return out;
  }

 private:
  Connection c_;
};

// Reader connections per process.
constexpr int kReaders = 4;

// Held while migrations run: replicas starting together apply each migration once, in order.
constexpr std::int64_t kMigrationLock = 0x62756c7761726b;  // "bulwark"

class PostgresStore : public Store {
 public:
  PostgresStore(std::string url, Connection writer, std::vector<Connection> readers)
      : url_(std::move(url)), db_(std::move(writer)), readers_(std::move(readers)) {}

  Result<void> migrate() {
    std::lock_guard lock(mu_);
    if (auto r = db_.exec("SELECT pg_advisory_lock($1)", {num(kMigrationLock)}); !r)
      return r.error();
    auto result = migrate_locked();
    (void)db_.exec("SELECT pg_advisory_unlock($1)", {num(kMigrationLock)});
    return result;
  }

  Result<std::optional<LayerMeta>> get_layer_meta(const std::string& digest) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT analyzer_version, diff_id, status, analyzer_versions FROM layers WHERE digest = $1",
        {digest});
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<LayerMeta>();
    return std::optional<LayerMeta>(layer_meta_from(static_cast<int>(r->integer(0, 0)),
                                                    r->text(0, 1), r->text(0, 2), r->text(0, 3)));
  }

  Result<SharedLayerRecord> get_layer(const std::string& digest) override {
    auto one = get_layers({digest});
    if (!one) return one.error();
    return std::move(one->front());
  }

  Result<std::vector<std::optional<LayerMeta>>> get_layer_metas(
      const std::vector<std::string>& digests) override {
    if (digests.empty()) return std::vector<std::optional<LayerMeta>>();
    return layer_metas_on(*readers_.take(), digests);
  }

  static Result<std::vector<std::optional<LayerMeta>>> layer_metas_on(
      Connection& c, const std::vector<std::string>& digests) {
    std::vector<std::optional<LayerMeta>> out(digests.size());
    if (digests.empty()) return out;
    static const std::string sql =
        "SELECT digest, analyzer_version, diff_id, status, analyzer_versions FROM " +
        pg::layers_named(1);
    auto r = c.exec(sql, {pg::distinct_array(digests)});
    if (!r) return r.error();
    for (int row = 0; row < r->size(); ++row) {
      const std::string digest = r->text(row, 0);
      for (std::size_t i = 0; i < digests.size(); ++i)
        if (digests[i] == digest)
          out[i] = layer_meta_from(static_cast<int>(r->integer(row, 1)), r->text(row, 2),
                                   r->text(row, 3), r->text(row, 4));
    }
    return out;
  }

  Result<std::vector<SharedLayerRecord>> get_layers(
      const std::vector<std::string>& digests) override {
    if (digests.empty()) return std::vector<SharedLayerRecord>();
    LayerRows rows;
    {
      auto rdb = readers_.take();
      auto r = read_layer_rows(*rdb, digests, rows);
      if (!r) return r.error();
    }
    // Parsed with no connection held.
    return parse_layer_rows(std::move(rows), digests);
  }

  Result<ReportSources> report_sources(const std::string& digest,
                                       const std::vector<std::string>& layer_digests) override {
    LayerRows rows;
    Result<ReportContext> context = ReportContext{};
    {
      auto rdb = readers_.take();
      // One transaction, the two reads in one round trip.
      auto done = rdb->transaction([&]() -> Result<void> {
        std::vector<pg::Statement> batch;
        std::optional<LayerRowsAsk> asked;
        if (!layer_digests.empty()) {
          asked = ask_layer_rows(layer_digests);
          batch.push_back(asked->statement);
        }
        batch.push_back(report_context_statement(digest));
        auto r = rdb->commit_with(std::move(batch));
        if (!r) return r.error();
        if (asked) take_layer_rows(r->front(), *asked, rows);
        context = report_context_from(r->back());
        return {};
      });
      if (!done) return done.error();
    }
    auto layers = parse_layer_rows(std::move(rows), layer_digests);
    if (!layers) return layers.error();
    return ReportSources{std::move(*layers), std::move(*context)};
  }

  // Layers' rows as read: each record without its facts, the facts' JSON and the path hashes,
  // the row's version; or, for a row whose version the cache holds, the cached record.
  struct LayerRows {
    std::vector<LayerRecord> records;
    std::vector<std::string> facts;
    std::vector<std::string> hashes;
    std::vector<std::string> versions;
    std::vector<std::shared_ptr<const LayerRecord>> cached;

    void add_cached(std::shared_ptr<const LayerRecord> record, std::string version) {
      records.push_back(LayerRecord{record->digest, {}, 0, {}, {}});
      facts.emplace_back();
      hashes.emplace_back();
      versions.push_back(std::move(version));
      cached.push_back(std::move(record));
    }
  };

  // A read of layers' rows: its statement, and the cached records it names as known.
  struct LayerRowsAsk {
    pg::Statement statement;
    std::map<std::string, LayerCache::Entry> held;  // kept alive while the rows are read
  };

  // Facts are sent only for rows whose version (xmin: any write of the row changes it, here or
  // on another replica) differs from the cached one's.
  LayerRowsAsk ask_layer_rows(const std::vector<std::string>& digests) {
    LayerRowsAsk ask;
    std::vector<std::string> known;
    for (const auto& d : digests)
      if (auto e = layer_cache_.find(d)) {
        known.push_back(d + "|" + e->version);
        ask.held.emplace(d, std::move(*e));
      }
    static const std::string sql =
        "SELECT digest, media_type, analyzer_version, analyzed_at, CASE WHEN digest || '|' || "
        "row_version = ANY($2::text[]) THEN NULL ELSE facts END, CASE WHEN digest || '|' || "
        "row_version = ANY($2::text[]) THEN NULL ELSE path_hashes END, row_version FROM " +
        pg::layers_named(1);
    ask.statement = {sql, {pg::distinct_array(digests), pg::text_array(known)}};
    return ask;
  }

  Result<void> read_layer_rows(Connection& c, const std::vector<std::string>& digests,
                               LayerRows& out) {
    auto ask = ask_layer_rows(digests);
    auto r = c.exec(ask.statement.text, ask.statement.params);
    if (!r) return r.error();
    take_layer_rows(*r, ask, out);
    return {};
  }

  void take_layer_rows(const Rows& r, const LayerRowsAsk& ask, LayerRows& out) {
    const auto& held = ask.held;
    for (int row = 0; row < r.size(); ++row) {
      LayerRecord rec;
      rec.digest = r.text(row, 0);
      rec.media_type = r.text(row, 1);
      rec.analyzer_version = static_cast<int>(r.integer(row, 2));
      rec.analyzed_at = r.text(row, 3);
      std::string version = r.text(row, 6);
      auto h = held.find(rec.digest);
      if (h != held.end() && h->second.version == version) {
        ++layer_cache_hits_;
        out.add_cached(h->second.record, std::move(version));
        continue;
      }
      ++layer_reads_;
      out.cached.emplace_back();
      out.facts.push_back(r.text(row, 4));
      out.hashes.push_back(r.bytes(row, 5));
      out.versions.push_back(std::move(version));
      out.records.push_back(std::move(rec));
    }
  }

  Result<std::vector<SharedLayerRecord>> parse_layer_rows(LayerRows rows,
                                                          const std::vector<std::string>& digests) {
    std::vector<SharedLayerRecord> out(digests.size());
    for (std::size_t k = 0; k < rows.records.size(); ++k) {
      SharedLayerRecord rec = std::move(rows.cached[k]);
      if (!rec) {
        auto& read = rows.records[k];
        const auto& hashes = rows.hashes[k];
        auto facts = layer_facts_from_json(nlohmann::json::parse(rows.facts[k], nullptr, false));
        if (!facts) return facts.error();
        read.facts = std::move(*facts);
        read.facts.path_hashes.resize(hashes.size() / 8);
        if (!read.facts.path_hashes.empty())
          std::memcpy(read.facts.path_hashes.data(), hashes.data(),
                      read.facts.path_hashes.size() * 8);
        const std::string digest = read.digest;
        rec = layer_cache_.put(digest, std::move(rows.versions[k]), std::move(read),
                               rows.facts[k].size() + hashes.size());
      }
      // A manifest may name a layer twice.
      for (std::size_t i = 0; i < digests.size(); ++i)
        if (digests[i] == rec->digest) out[i] = rec;
    }
    return out;
  }

  Result<ImageLookup> lookup_image(const std::string& manifest_digest,
                                   const std::string& ruleset_version,
                                   const std::vector<std::string>& layer_digests,
                                   const LookupAsk& ask) override {
    ImageLookup out;
    LayerRows rows;
    std::vector<std::string> read;
    std::optional<ReportContext> context;
    std::map<std::string, std::string> versions;  // each stored layer's row version
    auto rdb = readers_.take();
    // The report and the layers as one statement; a new image's lease and its report's sources
    // in the same transaction, so that a scan commits once before it fetches. A reader may write
    // the lease: all connections are to the one database.
    // After the look, what depends on it goes in one round trip: the lease (and the layer's
    // meta read after it), the layers not cached and the report's context.
    auto look = [&]() -> Result<void> {
      if (auto r =
              read_lookup(*rdb, manifest_digest, ruleset_version, layer_digests, out, versions);
          !r)
        return r;
      std::vector<pg::Statement> batch;
      const auto lease_at = layer_to_lease(out.layers, ask);
      if (lease_at) batch = lease_statements(layer_digests[*lease_at], ask.owner, ask.ttl);
      const bool sources = ask.sources && !out.report;
      std::optional<LayerRowsAsk> asked;
      if (sources) {
        read = source_digests(out, layer_digests, ask);
        // The layers the cache holds as the look found them are not read again.
        std::vector<std::string> unread;
        for (const auto& d : read) {
          auto kept = layer_cache_.find(d);
          if (kept && kept->version == versions[d]) {
            ++layer_cache_hits_;
            rows.add_cached(kept->record, versions[d]);
          } else {
            unread.push_back(d);
          }
        }
        if (!unread.empty()) {
          asked = ask_layer_rows(unread);
          batch.push_back(asked->statement);
        }
        batch.push_back(report_context_statement(manifest_digest));
      }
      if (batch.empty()) return {};
      auto r = rdb->commit_with(std::move(batch));
      if (!r) return r.error();
      std::size_t next = 0;
      if (lease_at) {
        out.leased_index = lease_at;
        out.lease = lease_from((*r)[0], (*r)[1]);
        next = 2;
      }
      if (!sources) return {};
      if (asked) take_layer_rows((*r)[next++], *asked, rows);
      context = report_context_from((*r)[next]);
      return {};
    };
    auto done = ask.owner.empty() && !ask.sources ? look() : rdb->transaction(look);
    if (!done) return done.error();
    if (!context) return out;
    auto layers = parse_layer_rows(std::move(rows), read);
    if (!layers) return layers.error();
    place_sources(out, std::move(*layers), std::move(*context), ask);
    return out;
  }

  // The report under the ruleset (if any) and each layer's meta and row version, as one
  // statement.
  static Result<void> read_lookup(Connection& c, const std::string& manifest_digest,
                                  const std::string& ruleset_version,
                                  const std::vector<std::string>& layer_digests, ImageLookup& out,
                                  std::map<std::string, std::string>& versions) {
    auto r = c.exec(pg::lookup_statement(),
                    {manifest_digest, ruleset_version, pg::distinct_array(layer_digests)});
    if (!r) return r.error();
    out.layers.assign(layer_digests.size(), std::nullopt);
    for (int row = 0; row < r->size(); ++row) {
      if (r->integer(row, 0) == 0) {
        out.report = ReportRecord{r->text(row, 1),
                                  r->text(row, 5),
                                  r->text(row, 4),
                                  static_cast<int>(r->integer(row, 2)),
                                  r->text(row, 3),
                                  r->text(row, 6),
                                  "",
                                  false,
                                  "",
                                  ""};
        continue;
      }
      const std::string digest = r->text(row, 1);
      versions[digest] = r->text(row, 6);
      for (std::size_t i = 0; i < layer_digests.size(); ++i)
        if (layer_digests[i] == digest)
          out.layers[i] = layer_meta_from(static_cast<int>(r->integer(row, 2)), r->text(row, 3),
                                          r->text(row, 4), r->text(row, 5));
    }
    return {};
  }

  Result<LayerLease> lease_layer(const std::string& digest, const std::string& owner,
                                 std::chrono::seconds ttl) override {
    std::lock_guard lock(mu_);
    Result<LayerLease> out = LayerLease{};
    auto done = db_.transaction([&]() -> Result<void> {
      auto r = db_.commit_with(lease_statements(digest, owner, ttl));
      if (!r) return r.error();
      out = lease_from((*r)[0], (*r)[1]);
      return {};
    });
    if (!done) return done.error();
    return out;
  }

  // The lease, then the layer read in a statement of its own (so with a snapshot taken after
  // the lease): facts another replica stored before its lease ended are seen. Sent together,
  // in a transaction (lease_from reads their rows).
  static std::vector<pg::Statement> lease_statements(const std::string& digest,
                                                     const std::string& owner,
                                                     std::chrono::seconds ttl) {
    return {{std::string(kAcquireLease), {"layer:" + digest, owner, num(ttl.count())}},
            {"SELECT analyzer_version, diff_id, status, analyzer_versions FROM layers WHERE "
             "digest = $1",
             {digest}}};
  }

  // The layer's meta counts only when the lease was taken.
  static LayerLease lease_from(const Rows& lease, const Rows& meta) {
    LayerLease out;
    out.leased = lease.size() == 1;
    if (out.leased && meta.size())
      out.stored = layer_meta_from(static_cast<int>(meta.integer(0, 0)), meta.text(0, 1),
                                   meta.text(0, 2), meta.text(0, 3));
    return out;
  }

  Result<void> put_layer(const LayerRecord& l) override {
    ++layer_writes_;
    const auto& f = l.facts;
    std::string facts = to_json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string hashes = pg::bytea_hex(std::string_view(
        reinterpret_cast<const char*>(f.path_hashes.data()), f.path_hashes.size() * 8));
    std::lock_guard lock(mu_);
    // One commit with the end of the fetch lease.
    return db_.transaction([&]() -> Result<void> {
      if (auto r = db_.defer("SELECT bulwark_end_lease($1, NULL)", {"layer:" + l.digest}); !r)
        return r.error();
      return db_.defer(
          "INSERT INTO layers(digest, media_type, compression, compressed_size, uncompressed_size, "
          "diff_id, entry_count, status, status_reason, analyzer_version, analyzed_at, facts, "
          "path_hashes, analyzer_versions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
          "$12, $13::bytea, $14) ON CONFLICT (digest) DO UPDATE SET media_type = "
          "excluded.media_type, compression = excluded.compression, compressed_size = "
          "excluded.compressed_size, uncompressed_size = excluded.uncompressed_size, diff_id = "
          "excluded.diff_id, entry_count = excluded.entry_count, status = excluded.status, "
          "status_reason = excluded.status_reason, analyzer_version = excluded.analyzer_version, "
          "analyzed_at = excluded.analyzed_at, facts = excluded.facts, path_hashes = "
          "excluded.path_hashes, analyzer_versions = excluded.analyzer_versions",
          {l.digest, l.media_type, f.compression, num(static_cast<std::int64_t>(f.compressed_size)),
           num(static_cast<std::int64_t>(f.uncompressed_size)), f.diff_id,
           num(static_cast<std::int64_t>(f.entry_count)), std::string(layer_status_name(f.status)),
           opt(f.status_reason), num(l.analyzer_version), l.analyzed_at, facts, hashes,
           nlohmann::json(f.analyzer_versions).dump()});
    });
  }

  Result<void> put_image(const ImageRecord& im, const std::optional<TagRecord>& tag) override {
    std::lock_guard lock(mu_);
    return db_.transaction([&] { return put_image_locked(im, tag); });
  }

  // `report`, when given, is the image's report the caller writes next (put_report_locked with
  // its summary written): the summary row is written once, with its figures.
  // REQUIRES: mu_ held, inside a transaction.
  Result<void> put_image_locked(const ImageRecord& im, const std::optional<TagRecord>& tag,
                                const ReportRecord* report = nullptr) {
    std::string now = now_rfc3339();
    auto r = db_.defer(
        "INSERT INTO images(manifest_digest, media_type, config_digest, os, architecture, "
        "variant, created, \"user\", config, manifest, first_seen, last_scanned) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (manifest_digest) DO UPDATE SET "
        "last_scanned = excluded.last_scanned",
        {im.manifest_digest, im.media_type, im.config_digest, im.os, im.architecture, im.variant,
         im.created, im.user, im.config, im.manifest, now});
    if (!r) return r.error();
    if (auto d =
            db_.defer("DELETE FROM image_layers WHERE manifest_digest = $1", {im.manifest_digest});
        !d)
      return d.error();
    // Every layer in one statement, whatever their number.
    std::vector<std::string> digests, media_types, sizes, diff_ids;
    for (auto& l : im.layers) {
      digests.push_back(l.digest);
      media_types.push_back(l.media_type);
      sizes.push_back(num(l.size));
      diff_ids.push_back(l.diff_id);
    }
    if (auto ins = db_.defer(
            "INSERT INTO image_layers(manifest_digest, position, layer_digest, media_type, size, "
            "diff_id) SELECT $1, ord - 1, d, m, s, di FROM unnest($2::text[], $3::text[], "
            "$4::bigint[], $5::text[]) WITH ORDINALITY AS t(d, m, s, di, ord)",
            {im.manifest_digest, pg::text_array(digests), pg::text_array(media_types),
             pg::text_array(sizes), pg::text_array(diff_ids)});
        !ins)
      return ins.error();
    return record_seen(im.manifest_digest, tag, queries::platform_of(im), now, report);
  }

  Result<bool> touch_image(const std::string& digest,
                           const std::optional<TagRecord>& tag) override {
    std::lock_guard lock(mu_);
    std::string now = now_rfc3339();
    bool found = false;
    auto r = db_.transaction([&]() -> Result<void> {
      auto t = touch(digest, tag, now);
      if (!t) return t.error();
      found = *t;
      return {};
    });
    if (!r) return r.error();
    return found;
  }

  Result<std::optional<KnownResult>> known_result(const std::string& image,
                                                  const std::string& platform,
                                                  const std::string& ruleset) override {
    return known_result_on(*readers_.take(), image, platform, ruleset);
  }

  static Result<std::optional<KnownResult>> known_result_on(Connection& c, const std::string& image,
                                                            const std::string& platform,
                                                            const std::string& ruleset) {
    auto r = c.exec(
        "SELECT s.manifest_digest, COALESCE(s.index_digest, '') FROM scans s WHERE s.image = $1 "
        "AND s.status = 'done' AND s.platform = $2 AND s.manifest_digest IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM reports r WHERE r.manifest_digest = s.manifest_digest AND "
        "r.ruleset_version = $3) ORDER BY s.seq DESC LIMIT 1",
        {image, platform, ruleset});
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<KnownResult>();
    KnownResult out{r->text(0, 0), r->text(0, 1), {}};
    auto ls =
        c.exec("SELECT layer_digest FROM image_layers WHERE manifest_digest = $1 ORDER BY position",
               {out.manifest_digest});
    if (!ls) return ls.error();
    for (int i = 0; i < ls->size(); ++i) out.layers.push_back(ls->text(i, 0));
    return std::optional<KnownResult>(std::move(out));
  }

  Result<bool> record_unchanged(const std::string& image, const std::string& digest,
                                const std::optional<TagRecord>& tag) override {
    std::lock_guard lock(mu_);
    std::string now = now_rfc3339();
    bool found = false;
    auto r = db_.transaction([&]() -> Result<void> {
      auto seen = record_unchanged_locked(image, digest, tag, now);
      if (!seen) return seen.error();
      found = *seen;
      return {};
    });
    if (!r) return r.error();
    return found;
  }

  // The reads and the writes on the writer, in one transaction: a registry pass's small writes
  // cost one commit per batch of tags, not one per tag.
  Result<std::vector<TagState>> check_tags(
      const std::vector<TagCheck>& tags, const std::string& platform,
      const std::string& ruleset_version,
      const std::function<bool(const LayerMeta&)>& current) override {
    std::lock_guard lock(mu_);
    std::string now = now_rfc3339();
    std::vector<TagState> out;
    auto r = db_.transaction([&]() -> Result<void> {
      OnConnection reads{db_};
      auto states = check_tags_with(reads, tags, platform, ruleset_version, current,
                                    [&](const std::string& image, const std::string& digest,
                                        const std::optional<TagRecord>& tag) {
                                      return record_unchanged_locked(image, digest, tag, now);
                                    });
      if (!states) return states.error();
      out = std::move(*states);
      return {};
    });
    if (!r) return r.error();
    return out;
  }

  // The reads compare_tag makes, on one connection.
  struct OnConnection {
    Connection& c;
    Result<bool> has_pending_scan(const std::string& image) {
      return has_pending_scan_on(c, image);
    }
    Result<std::optional<KnownResult>> known_result(const std::string& image,
                                                    const std::string& platform,
                                                    const std::string& ruleset) {
      return known_result_on(c, image, platform, ruleset);
    }
    Result<std::vector<std::optional<LayerMeta>>> get_layer_metas(
        const std::vector<std::string>& digests) {
      return layer_metas_on(c, digests);
    }
  };

  // record_unchanged's writes. REQUIRES: mu_ held, inside a transaction.
  Result<bool> record_unchanged_locked(const std::string& image, const std::string& digest,
                                       const std::optional<TagRecord>& tag,
                                       const std::string& now) {
    auto t = touch(digest, tag, now);
    if (!t) return t.error();
    if (!*t) return false;
    if (auto d = db_.defer(
            "INSERT INTO daily_results(day, image, manifest_digest, score, grade, finished_at, "
            "scans) SELECT substr($1, 1, 10), $2, manifest_digest, score, grade, $1, 1 FROM "
            "image_summaries WHERE manifest_digest = $3 AND score >= 0 ON CONFLICT (day, "
            "image) DO UPDATE SET manifest_digest = excluded.manifest_digest, score = "
            "excluded.score, grade = excluded.grade, finished_at = excluded.finished_at, "
            "scans = daily_results.scans + 1",
            {now, image, digest});
        !d)
      return d.error();
    auto sum = db_.exec(
        "SELECT score, grade FROM image_summaries WHERE manifest_digest = $1 AND score >= 0",
        {digest});
    if (!sum) return sum.error();
    if (sum->size() == 0) return true;
    if (auto c = count_result(image, static_cast<int>(sum->integer(0, 0)), sum->text(0, 1), now);
        !c)
      return c.error();
    return true;
  }

  // The image's summary (its last-scanned time) brought up to `now`, the tag (if any) as naming
  // it; false when the image is not stored. REQUIRES: mu_ held, inside a transaction.
  Result<bool> touch(const std::string& digest, const std::optional<TagRecord>& tag,
                     const std::string& now) {
    // The image row is left as it is (a new row version per pass otherwise); the summary
    // carries the time dashboards read.
    auto stored = db_.exec("SELECT 1 FROM images WHERE manifest_digest = $1", {digest});
    if (!stored) return stored.error();
    if (stored->size() == 0) return false;
    if (auto seen = record_seen(digest, tag, "", now); !seen) return seen.error();
    return true;
  }

  // The tag (if any) as naming `digest` since `now`, and the image's summary row: written
  // whole with its `platform` (put_image) and, when given, its report's figures, or only brought
  // up to date when seen again (touch, platform empty). REQUIRES: mu_ held, inside the caller's
  // transaction.
  Result<void> record_seen(const std::string& digest, const std::optional<TagRecord>& tag,
                           const std::string& platform, const std::string& now,
                           const ReportRecord* report = nullptr) {
    const bool tagged = tag && !tag->tag.empty();
    if (tagged)
      if (auto t = db_.defer(
              "INSERT INTO tags(registry, repository, tag, manifest_digest, first_seen, "
              "last_seen) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (registry, repository, "
              "tag, manifest_digest) DO UPDATE SET last_seen = excluded.last_seen",
              {tag->registry, tag->repository, tag->tag, digest, now});
          !t)
        return t.error();
    std::vector<Param> params = {digest, now, tagged ? tag->registry : std::string(),
                                 tagged ? tag->repository : std::string(),
                                 tagged ? tag->tag : std::string()};
    if (!platform.empty()) params.emplace_back(platform);
    // A summary names the image by the tag seen last; seen by digest, it keeps the one it had.
    static const std::string kWhole =
        "INSERT INTO image_summaries(manifest_digest, last_scanned, registry, repository, tag, "
        "platform) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (manifest_digest) DO UPDATE SET "
        "platform = excluded.platform, last_scanned = excluded.last_scanned, registry = CASE "
        "WHEN excluded.tag = '' THEN image_summaries.registry ELSE excluded.registry END, "
        "repository = CASE WHEN excluded.tag = '' THEN image_summaries.repository ELSE "
        "excluded.repository END, tag = CASE WHEN excluded.tag = '' THEN image_summaries.tag "
        "ELSE excluded.tag END";
    // With the report's figures: one row version, not an insert and then an update of the
    // scored columns (indexed, so the update wrote every index again, and fired the counters'
    // trigger twice).
    static const std::string kScored =
        "INSERT INTO image_summaries(manifest_digest, last_scanned, registry, repository, tag, "
        "platform, ruleset_version, score, grade, base, eol, severity_counts, top_finding) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT "
        "(manifest_digest) DO UPDATE SET platform = excluded.platform, last_scanned = "
        "excluded.last_scanned, registry = CASE WHEN excluded.tag = '' THEN "
        "image_summaries.registry ELSE excluded.registry END, repository = CASE WHEN "
        "excluded.tag = '' THEN image_summaries.repository ELSE excluded.repository END, tag = "
        "CASE WHEN excluded.tag = '' THEN image_summaries.tag ELSE excluded.tag END, "
        "ruleset_version = excluded.ruleset_version, score = excluded.score, grade = "
        "excluded.grade, base = excluded.base, eol = excluded.eol, severity_counts = "
        "excluded.severity_counts, top_finding = excluded.top_finding";
    // platform_of() is never empty: a report given is always written here.
    if (report && !platform.empty())
      params.insert(params.end(),
                    {report->ruleset_version, num(report->score), report->grade, report->base,
                     num(report->eol_os ? 1 : 0), report->severity_counts, report->top_finding});
    auto sum = db_.defer(
        platform.empty()
            ? "UPDATE image_summaries SET last_scanned = $2, registry = CASE WHEN $5 = '' THEN "
              "registry ELSE $3 END, repository = CASE WHEN $5 = '' THEN repository ELSE $4 END, "
              "tag = CASE WHEN $5 = '' THEN tag ELSE $5 END WHERE manifest_digest = $1"
            : (report ? kScored : kWhole),
        params);
    if (!sum) return sum.error();
    if (!tagged) return {};
    static const std::string untag = queries::dollar_placeholders(queries::kUntagMovedSummaries);
    if (auto moved = db_.defer(untag, {tag->registry, tag->repository, tag->tag, digest}); !moved)
      return moved.error();
    return {};
  }

  Result<std::optional<ImageRecord>> get_image(const std::string& digest) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT media_type, config_digest, os, architecture, variant, created, \"user\", config, "
        "manifest FROM images WHERE manifest_digest = $1",
        {digest});
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<ImageRecord>();
    ImageRecord im;
    im.manifest_digest = digest;
    im.media_type = r->text(0, 0);
    im.config_digest = r->text(0, 1);
    im.os = r->text(0, 2);
    im.architecture = r->text(0, 3);
    im.variant = r->text(0, 4);
    im.created = r->text(0, 5);
    im.user = r->text(0, 6);
    im.config = r->text(0, 7);
    im.manifest = r->text(0, 8);
    auto ls = rdb->exec(
        "SELECT layer_digest, media_type, size, diff_id FROM image_layers WHERE manifest_digest = "
        "$1 ORDER BY position",
        {digest});
    if (!ls) return ls.error();
    for (int i = 0; i < ls->size(); ++i)
      im.layers.push_back({ls->text(i, 0), ls->text(i, 1), ls->integer(i, 2), ls->text(i, 3)});
    return std::optional<ImageRecord>(std::move(im));
  }

  Result<void> put_scan(const ScanRecord& s) override {
    int score = 0;
    std::string grade;
    std::lock_guard lock(mu_);
    if (!judged(s, score, grade)) {
      auto wrote = write_scan(s);
      if (!wrote) return wrote.error();
      return {};
    }
    return db_.transaction([&] { return put_scan_locked(s); });
  }

  Result<std::vector<ScanRecord>> submit_scan(const ScanRecord& queued, const std::string& owner,
                                              const ClaimNext& next) override {
    if (next.limit == 0) {
      if (auto put = put_scan(queued); !put) return put.error();
      return std::vector<ScanRecord>();
    }
    std::vector<ScanRecord> claimed;
    {
      std::lock_guard lock(mu_);
      // The scan queued, the claim and COMMIT in one round trip.
      auto done = db_.transaction([&]() -> Result<void> {
        auto row = scan_upsert(queued);
        if (auto w = db_.defer(row.text, std::move(row.params)); !w) return w.error();
        auto c = db_.commit_with({claim_statement(owner, next.ttl, next.limit, next.started_at)});
        if (!c) return c.error();
        claimed = claimed_from(c->front());
        return {};
      });
      if (done) return claimed;
    }
    // Rolled back: the scan is queued alone, for a later claim.
    if (auto put = put_scan(queued); !put) return put.error();
    return std::vector<ScanRecord>();
  }

  Result<void> finish_scan(const ScanRecord& s, std::size_t keep,
                           const std::string& owner) override {
    std::lock_guard lock(mu_);
    return db_.transaction([&]() -> Result<void> {
      if (auto r = finish_scan_locked(s, keep, owner); !r) return r;
      return fold_counts_when_due();
    });
  }

  // REQUIRES: mu_ held, inside a transaction.
  Result<void> finish_scan_locked(const ScanRecord& s, std::size_t keep, const std::string& owner) {
    for (auto& e : end_statements(s, keep, owner))
      if (auto r = db_.defer(e.text, std::move(e.params)); !r) return r.error();
    return {};
  }

  // What ends scan `s`, in order: its final row, announced and (judged) counted in the trend;
  // its image's scans beyond the newest `keep` finished ones pruned; its lease ended.
  // REQUIRES: `s` is final.
  static std::vector<pg::Statement> end_statements(const ScanRecord& s, std::size_t keep,
                                                   const std::string& owner) {
    return {end_scan_statement(s),
            {kPruneScans, {s.image, num(static_cast<std::int64_t>(keep))}},
            {"SELECT bulwark_end_lease($1, $2)", {"scan:" + s.id, owner}}};
  }

  Result<std::vector<ScanRecord>> finish_image_scan(const ScannedImage& found, const ScanRecord& s,
                                                    std::size_t keep, const std::string& owner,
                                                    const ClaimNext& next) override {
    std::lock_guard lock(mu_);
    std::vector<ScanRecord> claimed;
    // The image's rows, then the scan's end with its trend rows: the order in which a registry
    // pass's unchanged tag takes them too (record_unchanged_locked). The trend rows of the day
    // are the ones every end updates: taken last, after the claim, they are held only until the
    // COMMIT sent with them, not while the image's rows are written. The claim waits on no lock
    // (SKIP LOCKED takes only rows no one holds, and the lease it writes is its own scan's), so
    // it cannot close a cycle wherever it stands. (Counters take no lock:
    // schema/postgres/012_count_log.sql.) All of it goes in one round trip.
    auto done = db_.transaction([&]() -> Result<void> {
      const ReportRecord* report = found.report ? &*found.report : nullptr;
      if (auto r = put_image_locked(found.image, found.tag, report); !r) return r;
      if (report)
        if (auto r = put_report_locked(*report, /*summarized=*/true); !r) return r;
      if (!found.reference_name.empty())
        if (auto r = put_reference_image_locked(found.reference_name, found.image.manifest_digest);
            !r)
          return r;
      if (auto r = fold_counts_when_due(); !r) return r;
      std::vector<pg::Statement> last;
      if (next.limit > 0)
        last.push_back(claim_statement(owner, next.ttl, next.limit, next.started_at));
      for (auto& e : end_statements(s, keep, owner)) last.push_back(std::move(e));
      auto c = db_.commit_with(std::move(last));
      if (!c) return c.error();
      if (next.limit > 0) claimed = claimed_from(c->front());
      return {};
    });
    if (!done) return done.error();
    return claimed;
  }

  // Whether `s` is a move to done with a result that scores, read into score and grade.
  static bool judged(const ScanRecord& s, int& score, std::string& grade) {
    return s.status == ScanStatus::done && !s.finished_at.empty() && !s.manifest_digest.empty() &&
           queries::result_score(s.result, score, grade);
  }

  // The scan's row and, on its move to a final status, its announcement and (done with a result
  // that scores) its trend rows: one statement sent with the transaction's other writes
  // (schema/postgres/019_scan_end_statements.sql). A repeated write of a finished scan changes
  // no row, and so is neither announced nor counted again. REQUIRES: mu_ held, inside a
  // transaction.
  Result<void> put_scan_locked(const ScanRecord& s) {
    if (!is_finished(s.status)) {
      auto wrote = write_scan(s);
      if (!wrote) return wrote.error();
      return {};
    }
    auto end = end_scan_statement(s);
    return db_.defer(end.text, std::move(end.params));
  }

  // REQUIRES: `s` is final.
  static pg::Statement end_scan_statement(const ScanRecord& s) {
    int score = 0;
    std::string grade;
    const bool counts = judged(s, score, grade);
    ScanRecord written = s;  // announced as the row holds it
    if (written.progress.empty()) written.progress = kNoProgress;
    std::vector<Param> params = scan_params(s);
    params.insert(params.end(),
                  {detail::scan_end_notice(written), counts ? Param(num(score)) : Param(),
                   counts ? Param(grade) : Param()});
    return {
        "SELECT bulwark_end_scan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
        "$15, $16, $17::int, $18)",
        std::move(params)};
  }

  // The fleet's trend rows brought up to a reference's new result, in one statement sent with
  // the transaction's other writes (schema/postgres/019_scan_end_statements.sql): the result's day
  // and every later day lose the reference's previous result and count this one; an older result
  // than the one counted changes nothing. REQUIRES: mu_ held, inside a transaction.
  Result<void> count_result(const std::string& image, int score, const std::string& grade,
                            const std::string& finished_at) {
    return db_.defer("SELECT bulwark_count_result($1, $2::int, $3, $4)",
                     {image, num(score), grade, finished_at});
  }

  static constexpr const char* kNoProgress = "{}";

  // A scan's columns as the statements writing its row take them, in kScanColumns' order.
  static std::vector<Param> scan_params(const ScanRecord& s) {
    return {s.id,
            s.image,
            s.platform,
            std::string(scan_status_name(s.status)),
            opt(s.manifest_digest),
            opt(s.index_digest),
            opt(s.error_code),
            opt(s.error_message),
            s.progress.empty() ? std::string(kNoProgress) : s.progress,
            s.created_at,
            opt(s.started_at),
            opt(s.finished_at),
            opt(s.policy),
            opt(s.result),
            opt(s.request_id)};
  }

  // The scan's row written while the stored one is queued or running: a row back when written.
  static pg::Statement scan_upsert(const ScanRecord& s) {
    return {
        "INSERT INTO scans(id, image, platform, status, manifest_digest, index_digest, "
        "error_code, error_message, progress, created_at, started_at, finished_at, policy, "
        "result, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15) ON CONFLICT (id) DO UPDATE SET status = excluded.status, manifest_digest = "
        "excluded.manifest_digest, index_digest = excluded.index_digest, error_code = "
        "excluded.error_code, error_message = excluded.error_message, progress = "
        "excluded.progress, started_at = excluded.started_at, finished_at = "
        "excluded.finished_at, result = excluded.result "
        "WHERE scans.status IN ('queued', 'running') RETURNING 1",
        scan_params(s)};
  }

  // Whether a row was written. REQUIRES: mu_ held.
  Result<bool> write_scan(const ScanRecord& s) {
    auto row = scan_upsert(s);
    auto r = db_.exec(row.text, row.params);
    if (!r) return r.error();
    if (r->size() == 0) return false;
    if (is_finished(s.status)) {
      // Announced as the row now holds it.
      ScanRecord written = s;
      if (written.progress.empty()) written.progress = kNoProgress;
      if (auto n = db_.defer("SELECT pg_notify($1, $2)",
                             {std::string(kScanEndChannel), detail::scan_end_notice(written)});
          !n)
        return n.error();
    }
    return true;
  }

  Result<std::unique_ptr<ScanEndFeed>> open_scan_end_feed() override {
    auto c = Connection::open(url_);
    if (!c) return c.error();
    if (auto r = c->exec(std::string("LISTEN ") + kScanEndChannel); !r) return r.error();
    return std::unique_ptr<ScanEndFeed>(std::make_unique<PgScanEndFeed>(std::move(*c)));
  }

  static constexpr const char* kScanColumns =
      "id, image, platform, status, manifest_digest, index_digest, error_code, error_message, "
      "progress, created_at, started_at, finished_at, policy, result, request_id";

  static ScanRecord scan_from(const Rows& r, int i) {
    return ScanRecord{r.text(i, 0),  r.text(i, 1),
                      r.text(i, 2),  parse_scan_status(r.text(i, 3)).value_or(ScanStatus::failed),
                      r.text(i, 4),  r.text(i, 5),
                      r.text(i, 6),  r.text(i, 7),
                      r.text(i, 8),  r.text(i, 9),
                      r.text(i, 10), r.text(i, 11),
                      r.text(i, 12), r.text(i, 13),
                      r.text(i, 14)};
  }

  Result<std::optional<ScanRecord>> get_scan(const std::string& id) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(std::string("SELECT ") + kScanColumns + " FROM scans WHERE id = $1", {id});
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<ScanRecord>();
    return std::optional<ScanRecord>(scan_from(*r, 0));
  }

  Result<std::vector<ScanRecord>> list_scans(const ScanQuery& q) override {
    auto rdb = readers_.take();
    // Only the filters given, so that each uses its index (status, seq) or (image, seq). The
    // status is a constant (a name of the enum, never the caller's text): the index of queued
    // scans and the one of the others are partial (schema/postgres/016_point_reads.sql), and a
    // plan for a status parameter could use neither.
    std::string sql = std::string("SELECT ") + kScanColumns + " FROM scans WHERE true";
    std::vector<Param> params;
    auto param = [&](std::string v) {
      params.emplace_back(std::move(v));
      return "$" + std::to_string(params.size());
    };
    if (q.status) sql += " AND status = '" + std::string(scan_status_name(*q.status)) + "'";
    if (!q.image.empty()) sql += " AND image = " + param(q.image);
    if (!q.before_id.empty())
      sql += " AND seq < (SELECT seq FROM scans WHERE id = " + param(q.before_id) + ")";
    sql += " ORDER BY seq DESC LIMIT " + std::to_string(q.limit);
    auto r = rdb->exec(sql, params);
    if (!r) return r.error();
    std::vector<ScanRecord> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(scan_from(*r, i));
    return out;
  }

  Result<std::vector<ScanResultRow>> list_scan_results(const std::string& since,
                                                       const std::string& prefix) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT finished_at, image, manifest_digest, score, grade, scans FROM daily_results "
        "WHERE day >= substr($1, 1, 10) AND substr(image, 1, length($2)) = $2 "
        "ORDER BY day, finished_at",
        {since, prefix});
    if (!r) return r.error();
    std::vector<ScanResultRow> out;
    for (int i = 0; i < r->size(); ++i)
      out.push_back({r->text(i, 0), r->text(i, 1), r->text(i, 2),
                     static_cast<int>(r->integer(i, 3)), r->text(i, 4),
                     static_cast<std::size_t>(r->integer(i, 5))});
    return out;
  }

  Result<std::vector<FleetDay>> fleet_days(const std::string& since) override {
    auto rdb = readers_.take();
    std::vector<FleetDay> out;
    std::map<std::string, std::size_t> at;
    auto days = rdb->exec(
        "SELECT day, images, scans, score_sum FROM fleet_days WHERE day >= COALESCE((SELECT "
        "max(day) FROM fleet_days WHERE day < $1), $1) ORDER BY day",
        {since.substr(0, 10)});
    if (!days) return days.error();
    for (int i = 0; i < days->size(); ++i) {
      at[days->text(i, 0)] = out.size();
      out.push_back({days->text(i, 0),
                     static_cast<std::size_t>(days->integer(i, 1)),
                     static_cast<std::size_t>(days->integer(i, 2)),
                     days->integer(i, 3),
                     -1,
                     {}});
    }
    if (out.empty()) return out;
    auto grades =
        rdb->exec("SELECT day, grade, images FROM fleet_day_grades WHERE day >= $1 AND images > 0",
                  {out.front().day});
    if (!grades) return grades.error();
    for (int i = 0; i < grades->size(); ++i)
      if (auto it = at.find(grades->text(i, 0)); it != at.end())
        out[it->second].grades[grades->text(i, 1)] =
            static_cast<std::size_t>(grades->integer(i, 2));
    auto lowest = rdb->exec(
        "SELECT day, min(score) FROM fleet_day_scores WHERE day >= $1 AND images > 0 GROUP BY "
        "day",
        {out.front().day});
    if (!lowest) return lowest.error();
    for (int i = 0; i < lowest->size(); ++i)
      if (auto it = at.find(lowest->text(i, 0)); it != at.end())
        out[it->second].min_score = static_cast<int>(lowest->integer(i, 1));
    return out;
  }

  Result<bool> has_pending_scan(const std::string& image) override {
    return has_pending_scan_on(*readers_.take(), image);
  }

  static Result<bool> has_pending_scan_on(Connection& c, const std::string& image) {
    auto r =
        c.exec("SELECT 1 FROM scans WHERE image = $1 AND status IN ('queued', 'running') LIMIT 1",
               {image});
    if (!r) return r.error();
    return r->size() > 0;
  }

  Result<std::size_t> prune_scans(const std::string& image, std::size_t keep) override {
    std::lock_guard lock(mu_);
    return prune_scans_locked(image, keep);
  }

  static constexpr const char* kPruneScans =
      "DELETE FROM scans WHERE image = $1 AND status IN ('done', 'failed', 'cancelled') AND "
      "seq <= (SELECT seq FROM scans WHERE image = $1 AND status IN ('done', 'failed', "
      "'cancelled') ORDER BY seq DESC LIMIT 1 OFFSET $2::bigint) RETURNING 1";

  // REQUIRES: mu_ held.
  Result<std::size_t> prune_scans_locked(const std::string& image, std::size_t keep) {
    auto r = db_.exec(kPruneScans, {image, num(static_cast<std::int64_t>(keep))});
    if (!r) return r.error();
    return static_cast<std::size_t>(r->size());
  }

  Result<std::uint64_t> count_scans(ScanStatus status) override {
    auto rdb = readers_.take();
    // The counter the scans' triggers keep (schema/postgres/006): one row, however long the
    // queue, once the log is folded into it (015: the log's rows are read by their fold only).
    auto r = rdb->exec("SELECT coalesce(bulwark_count_now('scans|' || $1), 0)",
                       {std::string(scan_status_name(status))});
    if (!r) return r.error();
    return r->size() ? static_cast<std::uint64_t>(std::max<std::int64_t>(r->integer(0, 0), 0)) : 0;
  }

  Result<std::vector<ScanRecord>> claim_queued_scans(const std::string& owner,
                                                     std::chrono::seconds ttl, std::size_t limit,
                                                     const std::string& started_at) override {
    std::lock_guard lock(mu_);
    return claim_locked(owner, ttl, limit, started_at);
  }

  // REQUIRES: mu_ held.
  Result<std::vector<ScanRecord>> claim_locked(const std::string& owner, std::chrono::seconds ttl,
                                               std::size_t limit, const std::string& started_at) {
    auto claim = claim_statement(owner, ttl, limit, started_at);
    auto r = db_.exec(claim.text, claim.params);
    if (!r) return r.error();
    return claimed_from(*r);
  }

  // One statement, so one transaction: SKIP LOCKED lets replicas claiming at once take
  // different rows instead of queueing behind each other's locks (schema/postgres/
  // 016_point_reads.sql).
  static pg::Statement claim_statement(const std::string& owner, std::chrono::seconds ttl,
                                       std::size_t limit, const std::string& started_at) {
    static const std::string sql = std::string("SELECT ") + kScanColumns +
                                   " FROM bulwark_claim_scans($1, $2::int, $3::bigint, $4) ORDER "
                                   "BY seq";
    return {sql, {owner, num(ttl.count()), num(static_cast<std::int64_t>(limit)), started_at}};
  }

  static std::vector<ScanRecord> claimed_from(const Rows& r) {
    std::vector<ScanRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(scan_from(r, i));
    return out;
  }

  Result<std::optional<ScanStatus>> cancel_scan(const std::string& id,
                                                const std::string& finished_at) override {
    std::lock_guard lock(mu_);
    auto r = db_.exec(
        "WITH old AS (SELECT seq AS old_seq, status AS old_status FROM scans WHERE id = $1 "
        "FOR UPDATE) UPDATE scans SET status = 'cancelled', error_code = 'cancelled', "
        "error_message = 'cancelled by request', finished_at = $2 FROM old WHERE seq = old_seq "
        "AND old_status IN ('queued', 'running') RETURNING old_status, pg_notify($3, $1)",
        {id, finished_at, std::string(kScanEndChannel)});
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<ScanStatus>();
    return parse_scan_status(r->text(0, 0));
  }

  Result<std::vector<std::string>> list_image_digests(const std::string& unreported) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT manifest_digest FROM images i WHERE $1 = '' OR NOT EXISTS (SELECT 1 FROM reports "
        "r WHERE r.manifest_digest = i.manifest_digest AND r.ruleset_version = $1) ORDER BY "
        "last_scanned DESC",
        {unreported});
    if (!r) return r.error();
    std::vector<std::string> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(r->text(i, 0));
    return out;
  }

  Result<std::vector<ImageRow>> list_images(const ImageQuery& q) override {
    auto page = queries::image_page(q, '$');
    std::vector<Param> params(page.params.begin(), page.params.end());
    auto rdb = readers_.take();
    auto r = rdb->exec(page.text, params);
    if (!r) return r.error();
    std::vector<ImageRow> out;
    for (int i = 0; i < r->size(); ++i)
      out.push_back(ImageRow{r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3),
                             r->text(i, 4), r->text(i, 5), static_cast<int>(r->integer(i, 6)),
                             r->text(i, 7), static_cast<int>(r->integer(i, 8)), r->text(i, 9),
                             r->text(i, 10)});
    return out;
  }

  Result<std::vector<RepositoryRow>> list_repositories(const std::string& registry,
                                                       std::size_t limit,
                                                       std::size_t offset) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT registry, repository, COUNT(DISTINCT tag), MAX(last_seen) FROM tags WHERE ($1 = "
        "'' OR registry = $1) GROUP BY registry, repository ORDER BY registry, repository "
        "LIMIT $2::bigint OFFSET $3::bigint",
        {registry, num(static_cast<std::int64_t>(limit)), num(static_cast<std::int64_t>(offset))});
    if (!r) return r.error();
    std::vector<RepositoryRow> out;
    for (int i = 0; i < r->size(); ++i)
      out.push_back({r->text(i, 0), r->text(i, 1), static_cast<std::size_t>(r->integer(i, 2)),
                     r->text(i, 3)});
    return out;
  }

  Result<std::vector<TagRow>> list_tags(const std::string& registry, const std::string& repository,
                                        const std::string& ruleset_version) override {
    auto rdb = readers_.take();
    auto r = rdb->exec(
        "SELECT t.tag, t.manifest_digest, t.first_seen, t.last_seen, r.score, r.grade FROM tags t "
        "LEFT JOIN reports r ON r.manifest_digest = t.manifest_digest AND r.ruleset_version = $3 "
        "WHERE t.registry = $1 AND t.repository = $2 ORDER BY t.tag, t.last_seen DESC",
        {registry, repository, ruleset_version});
    if (!r) return r.error();
    std::vector<TagRow> out;
    for (int i = 0; i < r->size(); ++i)
      out.push_back({r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3),
                     r->is_null(i, 4) ? -1 : static_cast<int>(r->integer(i, 4)), r->text(i, 5)});
    return out;
  }

  Result<nlohmann::json> stats(const std::string& ruleset_version) override {
    auto rdb = readers_.take();
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::int64_t>>>> rows;
    for (auto& q : queries::stats_statements()) {
      std::string sql = queries::dollar_placeholders(q.sql);
      std::vector<Param> params;
      if (sql.find("$1") != std::string::npos) params.emplace_back(ruleset_version);
      auto r = rdb->exec(sql, params);
      if (!r) return r.error();
      auto& out = rows.emplace_back(q.key, std::vector<std::pair<std::string, std::int64_t>>{});
      for (int i = 0; i < r->size(); ++i)
        out.second.emplace_back(q.grouped ? r->text(i, 0) : std::string(),
                                r->integer(i, q.grouped ? 1 : 0));
    }
    return queries::stats_json(rows);
  }

  // Other replicas write too: no generation this process could know.
  std::optional<std::string> generation() const override { return std::nullopt; }

  Result<std::vector<std::string>> dashboard_query_plans(
      const std::string& ruleset_version) override {
    auto rdb = readers_.take();
    // On small tables the planner rightly prefers a sequential scan; with it priced out, a
    // statement that still scans has no index to use.
    if (auto r = rdb->exec("SET enable_seqscan = off"); !r) return r.error();
    std::vector<std::string> out;
    Result<void> failed;
    for (auto& q : queries::dashboard_statements(ruleset_version, '$')) {
      std::vector<Param> params(q.params.begin(), q.params.end());
      auto r = rdb->exec("EXPLAIN " + q.text, params);
      if (!r) {
        failed = r.error();
        break;
      }
      out.push_back("-- " + q.text);
      for (int i = 0; i < r->size(); ++i) out.push_back(r->text(i, 0));
      // The plan for any parameters, which PostgreSQL may keep for a prepared statement after
      // its fifth run (Connection::exec prepares them): forced here, from the same text.
      std::string args;
      for (auto& p : params) args += (args.empty() ? "" : ", ") + rdb->literal(p);
      auto g = rdb->exec("PREPARE bw_plan AS " + q.text);
      if (g) g = rdb->exec("SET plan_cache_mode = force_generic_plan");
      if (g) g = rdb->exec("EXPLAIN EXECUTE bw_plan" + (args.empty() ? "" : "(" + args + ")"));
      (void)rdb->exec("DEALLOCATE bw_plan");
      (void)rdb->exec("RESET plan_cache_mode");
      if (!g) {
        failed = g.error();
        break;
      }
      out.push_back("-- generic plan: " + q.text);
      for (int i = 0; i < g->size(); ++i) out.push_back(g->text(i, 0));
    }
    (void)rdb->exec("RESET enable_seqscan");
    if (!failed) return failed.error();
    return out;
  }

  Result<void> put_report(const ReportRecord& r) override {
    std::lock_guard lock(mu_);
    return db_.transaction([&] { return put_report_locked(r); });
  }

  // `summarized`: the image's summary row already holds the report's figures (put_image_locked
  // wrote them). REQUIRES: mu_ held, inside a transaction.
  Result<void> put_report_locked(const ReportRecord& r, bool summarized = false) {
    auto q = db_.defer(
        "INSERT INTO reports(manifest_digest, ruleset_version, image_ref, score, grade, report, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (manifest_digest, "
        "ruleset_version) DO UPDATE SET image_ref = excluded.image_ref, score = excluded.score, "
        "grade = excluded.grade, report = excluded.report, created_at = excluded.created_at",
        {r.manifest_digest, r.ruleset_version, r.image_ref, num(r.score), r.grade, r.report,
         now_rfc3339()});
    if (!q) return q.error();
    if (summarized) return {};
    static const std::string summarize = queries::dollar_placeholders(queries::kSummarizeReport);
    auto sum =
        db_.defer(summarize, {r.manifest_digest, r.ruleset_version, num(r.score), r.grade, r.base,
                              num(r.eol_os ? 1 : 0), r.severity_counts, r.top_finding});
    if (!sum) return sum.error();
    return {};
  }

  Result<std::optional<ReportRecord>> get_report(const std::string& digest,
                                                 const std::string& version) override {
    return report_query(
        "SELECT manifest_digest, ruleset_version, image_ref, score, grade, report FROM reports "
        "WHERE manifest_digest = $1 AND ruleset_version = $2",
        {digest, version});
  }

  Result<std::optional<ReportRecord>> latest_report(const std::string& digest) override {
    return report_query(
        "SELECT manifest_digest, ruleset_version, image_ref, score, grade, report FROM reports "
        "WHERE manifest_digest = $1 ORDER BY created_at DESC LIMIT 1",
        {digest});
  }

  Result<void> clear_reports() override {
    std::lock_guard lock(mu_);
    return db_.transaction([&]() -> Result<void> {
      if (auto r = db_.exec("DELETE FROM reports"); !r) return r.error();
      if (auto r = db_.exec(queries::kUnscoreSummaries); !r) return r.error();
      return {};
    });
  }

  Result<std::string> image_name(const std::string& digest) override {
    static const std::string sql = queries::dollar_placeholders(queries::kImageName);
    auto rdb = readers_.take();
    auto r = rdb->exec(sql, {digest});
    if (!r) return r.error();
    return r->size() ? r->text(0, 0) : std::string();
  }

  Result<std::vector<std::string>> image_tags(const std::string& digest) override {
    static const std::string sql = queries::dollar_placeholders(queries::kImageTags);
    auto rdb = readers_.take();
    auto r = rdb->exec(sql, {digest});
    if (!r) return r.error();
    std::vector<std::string> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(r->text(i, 0));
    return out;
  }

  Result<ReportContext> report_context(const std::string& digest) override {
    auto rdb = readers_.take();
    auto ask = report_context_statement(digest);
    auto r = rdb->exec(ask.text, ask.params);
    if (!r) return r.error();
    return report_context_from(*r);
  }

  // The three reads as one statement, each part in its own order.
  static pg::Statement report_context_statement(const std::string& digest) {
    return {
        "SELECT part, c1, c2, c3, c4, c5, c6, c7 FROM (SELECT 0 AS part, id AS n, rule_id AS "
        "c1, path AS c2, env_key AS c3, reason AS c4, created_at AS c5, image AS c6, expires "
        "AS c7 FROM suppressions UNION ALL SELECT 1, 0, name, manifest_digest, NULL, NULL, "
        "NULL, NULL, NULL FROM reference_images UNION ALL SELECT 2, 0, name, last_seen, NULL, "
        "NULL, NULL, NULL, NULL FROM bulwark_digest_tags($1, 100)) AS parts ORDER BY part, n, "
        "c1",
        {digest}};
  }

  static ReportContext report_context_from(const Rows& rows) {
    ReportContext out;
    std::vector<std::pair<std::string, std::string>> tags;  // (last seen, name)
    for (int i = 0; i < rows.size(); ++i) {
      switch (rows.integer(i, 0)) {
        case 0:
          out.suppressions.push_back({rows.text(i, 1), rows.text(i, 2), rows.text(i, 3),
                                      rows.text(i, 4), rows.text(i, 5), rows.text(i, 6),
                                      rows.text(i, 7)});
          break;
        case 1:
          out.reference_images.emplace_back(rows.text(i, 1), rows.text(i, 2));
          break;
        default:
          tags.emplace_back(rows.text(i, 2), rows.text(i, 1));
      }
    }
    std::stable_sort(tags.begin(), tags.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (auto& t : tags) out.tags.push_back(std::move(t.second));
    return out;
  }

  Result<std::vector<SuppressionRecord>> list_suppressions() override {
    auto rdb = readers_.take();
    auto r = rdb->exec(queries::kListSuppressions);
    if (!r) return r.error();
    std::vector<SuppressionRecord> out;
    for (int i = 0; i < r->size(); ++i)
      out.push_back({r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3), r->text(i, 4),
                     r->text(i, 5), r->text(i, 6)});
    return out;
  }

  Result<void> replace_suppressions(const std::vector<SuppressionRecord>& list) override {
    std::lock_guard lock(mu_);
    return db_.transaction([&]() -> Result<void> {
      if (auto r = db_.exec("DELETE FROM suppressions"); !r) return r.error();
      if (auto r = db_.exec("DELETE FROM reports"); !r) return r.error();
      if (auto r = db_.exec(queries::kUnscoreSummaries); !r) return r.error();
      for (auto& s : list)
        if (auto r =
                db_.exec(queries::dollar_placeholders(queries::kInsertSuppression),
                         {s.rule_id, s.path, s.env_key, s.reason,
                          s.created_at.empty() ? now_rfc3339() : s.created_at, s.image, s.expires});
            !r)
          return r.error();
      return {};
    });
  }

  Result<void> put_reference_image(const std::string& name, const std::string& digest) override {
    std::lock_guard lock(mu_);
    return put_reference_image_locked(name, digest);
  }

  // REQUIRES: mu_ held.
  Result<void> put_reference_image_locked(const std::string& name, const std::string& digest) {
    auto r = db_.defer(
        "INSERT INTO reference_images(name, manifest_digest) VALUES ($1, $2) ON CONFLICT (name) "
        "DO UPDATE SET manifest_digest = excluded.manifest_digest",
        {name, digest});
    if (!r) return r.error();
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> list_reference_images() override {
    auto rdb = readers_.take();
    auto r = rdb->exec("SELECT name, manifest_digest FROM reference_images ORDER BY name");
    if (!r) return r.error();
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < r->size(); ++i) out.emplace_back(r->text(i, 0), r->text(i, 1));
    return out;
  }

  Result<bool> acquire_lease(const std::string& key, const std::string& owner,
                             std::chrono::seconds ttl) override {
    std::lock_guard lock(mu_);
    auto r = db_.exec(kAcquireLease, {key, owner, num(ttl.count())});
    if (!r) return r.error();
    return r->size() == 1;
  }

  Result<void> release_lease(const std::string& key, const std::string& owner) override {
    std::lock_guard lock(mu_);
    if (auto r = db_.exec("SELECT bulwark_end_lease($1, $2)", {key, owner}); !r) return r.error();
    return {};
  }

  Result<bool> enqueue_delivery(const DeliveryRecord& d) override {
    static const std::string sql = queries::dollar_placeholders(queries::kEnqueueDelivery);
    std::lock_guard lock(mu_);
    auto r = db_.exec(sql, {d.event_key, d.event, d.url, d.body, num(d.created_at_ms)});
    if (!r) return r.error();
    return r->size() == 1;
  }

  Result<std::vector<DeliveryRecord>> claim_deliveries(const std::string& owner,
                                                       std::int64_t now_ms, std::int64_t hold_ms,
                                                       std::size_t limit) override {
    static const std::string sql = queries::dollar_placeholders(queries::kClaimDeliveries);
    std::lock_guard lock(mu_);
    auto r =
        db_.exec(sql, {owner, num(now_ms), num(hold_ms), num(static_cast<std::int64_t>(limit))});
    if (!r) return r.error();
    auto out = deliveries(*r);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return out;
  }

  Result<void> finish_delivery(const DeliveryRecord& d, const std::string& owner,
                               std::int64_t prune_before_ms) override {
    static const std::string finish = queries::dollar_placeholders(queries::kFinishDelivery);
    static const std::string prune = queries::dollar_placeholders(queries::kPruneDeliveries);
    std::lock_guard lock(mu_);
    return db_.transaction([&]() -> Result<void> {
      if (auto r = db_.exec(finish, {num(d.id), d.state, num(d.attempts), num(d.next_at_ms),
                                     d.last_error, num(d.updated_at_ms), owner});
          !r)
        return r.error();
      if (auto r = db_.exec(prune, {num(prune_before_ms)}); !r) return r.error();
      return {};
    });
  }

  Result<std::vector<DeliveryRecord>> list_deliveries(const std::string& state,
                                                      std::int64_t before_id,
                                                      std::size_t limit) override {
    static const std::string sql = queries::dollar_placeholders(queries::kListDeliveries);
    auto rdb = readers_.take();
    auto r = rdb->exec(sql, {state, num(before_id), num(static_cast<std::int64_t>(limit))});
    if (!r) return r.error();
    return deliveries(*r);
  }

  static std::vector<DeliveryRecord> deliveries(const Rows& r) {
    std::vector<DeliveryRecord> out;
    for (int i = 0; i < r.size(); ++i)
      out.push_back(DeliveryRecord{r.integer(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3),
                                   r.text(i, 4), r.text(i, 5), static_cast<int>(r.integer(i, 6)),
                                   r.integer(i, 7), r.text(i, 8), r.integer(i, 9),
                                   r.integer(i, 10)});
    return out;
  }

  Result<std::vector<int>> schema_versions() override {
    auto rdb = readers_.take();
    return versions(*rdb);
  }

  Result<std::string> integrity_check() override {
    // The server keeps its own consistency; what can fail from here is reaching it.
    auto rdb = readers_.take();
    auto r = rdb->exec("SELECT 1");
    if (!r) return r.error();
    return std::string("ok");
  }

  Counters counters() const override {
    return {layer_reads_.load(), layer_writes_.load(), layer_cache_hits_.load()};
  }

 private:
  // The counters' log folded into their totals (schema/postgres/012_count_log.sql) as the last
  // statement of a scan's end, at most ten times a second from all replicas together (015), no
  // commit of its own. Readers of /v1/stats sum what is not folded yet: while scans end, a
  // tenth of a second of the replicas' writes; a queue-depth poll folds first. A fold reads each
  // delta once, and never waits for another replica's. REQUIRES: mu_ held, inside a transaction.
  Result<void> fold_counts_when_due() {
    constexpr std::chrono::milliseconds kFoldEvery{100};
    const auto now = std::chrono::steady_clock::now();
    // Asked no more often than a fold may be due: each ask reads the time of the last fold.
    if (now - last_fold_ < kFoldEvery) return {};
    last_fold_ = now;
    if (auto r = db_.defer("SELECT bulwark_fold_counts($1::int * interval '1 millisecond')",
                           {num(kFoldEvery.count())});
        !r)
      return r.error();
    return {};
  }

  Result<void> migrate_locked() {
    if (auto r = db_.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
            "NOT NULL, applied_at TEXT NOT NULL)");
        !r)
      return r.error();
    auto applied = versions(db_);
    if (!applied) return applied.error();
    std::vector<std::pair<int, EmbeddedFile>> migrations;
    for (auto& f : pg_schema_files::files()) {
      int v = 0;
      auto [p, ec] = std::from_chars(f.name.data(), f.name.data() + f.name.size(), v);
      if (ec == std::errc() && *p == '_' && f.name.ends_with(".sql")) migrations.push_back({v, f});
    }
    std::sort(migrations.begin(), migrations.end(),
              [](auto& a, auto& b) { return a.first < b.first; });
    for (auto& migration : migrations) {
      const int version = migration.first;
      const EmbeddedFile& file = migration.second;
      if (std::find(applied->begin(), applied->end(), version) != applied->end()) continue;
      auto r = db_.transaction([&]() -> Result<void> {
        if (auto e = db_.exec(file.content); !e)
          return make_error(Errc::internal,
                            "migration " + std::string(file.name) + ": " + e.error().message);
        if (auto e = db_.exec(
                "INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
                {num(version), std::string(file.name), now_rfc3339()});
            !e)
          return e.error();
        return {};
      });
      if (!r) return r;
      log::info("store applied migration", {{"migration", std::string(file.name)}});
    }
    return {};
  }

  static Result<std::vector<int>> versions(Connection& db) {
    auto r = db.exec("SELECT version FROM schema_migrations ORDER BY version");
    if (!r) return r.error();
    std::vector<int> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(static_cast<int>(r->integer(i, 0)));
    return out;
  }

  Result<std::optional<ReportRecord>> report_query(const char* sql,
                                                   const std::vector<Param>& params) {
    auto rdb = readers_.take();
    auto r = rdb->exec(sql, params);
    if (!r) return r.error();
    if (r->size() == 0) return std::optional<ReportRecord>();
    return std::optional<ReportRecord>(ReportRecord{
        r->text(0, 0), r->text(0, 1), r->text(0, 2), static_cast<int>(r->integer(0, 3)),
        r->text(0, 4), r->text(0, 5), "", false, "", ""});
  }

  const std::string url_;  // for the feeds of scan ends, each on a connection of its own
  // Two connections, as in the SQLite store: a large layer being written never holds up reads.
  std::mutex mu_;
  Connection db_;  // guarded by mu_
  detail::ConnectionPool<Connection> readers_;
  std::atomic<std::uint64_t> layer_reads_{0};
  std::atomic<std::uint64_t> layer_cache_hits_{0};
  LayerCache layer_cache_{detail::kLayerCacheBytes};
  std::atomic<std::uint64_t> layer_writes_{0};
  std::chrono::steady_clock::time_point last_fold_{};  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url) {
  auto writer = Connection::open(url);
  if (!writer) return writer.error();
  // As many readers as the daemon has store threads: each read gets a connection of its own.
  std::vector<Connection> readers;
  for (int i = 0; i < kReaders; ++i) {
    auto reader = Connection::open(url);
    if (!reader) return reader.error();
    readers.push_back(std::move(*reader));
  }
  auto store = std::make_unique<PostgresStore>(url, std::move(*writer), std::move(readers));
  if (auto r = store->migrate(); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> open_store(const std::string& url, const std::string& data_dir) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://"))
    return open_postgres_store(url);
  if (url.empty()) return open_sqlite_store({data_dir + "/bulwark.db"});
  if (url.starts_with("sqlite:")) return open_sqlite_store({url.substr(7)});
  return make_error(Errc::bad_request,
                    "store must be sqlite:PATH or postgresql://…, not " + pg::redact(url));
}

std::string store_description(const std::string& url, const std::string& data_dir) {
  if (url.empty()) return "sqlite:" + data_dir + "/bulwark.db";
  return pg::redact(url);
}

}  // namespace bw
