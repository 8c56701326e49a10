#include "common/embedded.h"
#include "common/log.h"
#include "common/time_util.h"
#include "store/detail/sqlite.h"
#include "store/store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

namespace bw {
namespace {

using sqlite::Database;

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// schema/NNN_name.sql, ascending by NNN.
std::vector<Migration> embedded_migrations() {
  std::vector<Migration> out;
  for (auto& f : schema_files::files()) {
    if (!f.name.ends_with(".sql")) continue;
    int v = 0;
    auto [p, ec] = std::from_chars(f.name.data(), f.name.data() + f.name.size(), v);
    if (ec != std::errc() || *p != '_') continue;
    out.push_back({v, f.name, f.content});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
  return out;
}

class SqliteStore : public Store {
 public:
  SqliteStore(Database writer, Database reader) : db_(std::move(writer)), rdb_(std::move(reader)) {}

  Result<void> migrate() {
    std::lock_guard lock(mu_);
    if (auto r =
            db_.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
        !r)
      return r;
    auto applied = versions_locked(db_);
    if (!applied) return applied.error();
    for (auto& m : embedded_migrations()) {
      if (std::find(applied->begin(), applied->end(), m.version) != applied->end()) continue;
      auto r = sqlite::transaction(db_, [&]() -> Result<void> {
        if (auto e = db_.exec(m.sql); !e)
          return make_error(Errc::internal,
                            "migration " + std::string(m.name) + ": " + e.error().message);
        auto st = db_.prepare(
            "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?1, ?2, ?3)");
        if (!st) return st.error();
        st->bind(1, std::int64_t{m.version});
        st->bind(2, m.name);
        st->bind(3, now_rfc3339());
        if (auto s = st->step(); !s) return s.error();
        return {};
      });
      if (!r) return r;
      log::info("store applied migration " + std::string(m.name));
    }
    return {};
  }

  Result<std::optional<LayerMeta>> get_layer_meta(const std::string& digest) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT analyzer_version, diff_id, status, analyzer_versions FROM layers "
        "WHERE digest = ?1");
    if (!st) return st.error();
    st->bind(1, digest);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<LayerMeta>();
    return std::optional<LayerMeta>(
        layer_meta_from(static_cast<int>(st->integer(0)), st->text(1), st->text(2), st->text(3)));
  }

  Counters counters() const override { return {layer_reads_.load(), layer_writes_.load()}; }

  Result<std::optional<LayerRecord>> get_layer(const std::string& digest) override {
    ++layer_reads_;
    LayerRecord rec;
    std::string facts_text;
    {
      // Only the copy happens under the lock: parsing a large layer's facts must not hold up
      // the other readers.
      std::lock_guard lock(read_mu_);
      auto st = rdb_.prepare(
          "SELECT media_type, analyzer_version, analyzed_at, facts, path_hashes FROM layers "
          "WHERE digest = ?1");
      if (!st) return st.error();
      st->bind(1, digest);
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) return std::optional<LayerRecord>();
      rec.digest = digest;
      rec.media_type = st->text(0);
      rec.analyzer_version = static_cast<int>(st->integer(1));
      rec.analyzed_at = st->text(2);
      facts_text = st->text(3);
      std::string_view hashes = st->blob(4);
      rec.facts.path_hashes.resize(hashes.size() / 8);
      if (!rec.facts.path_hashes.empty())
        std::memcpy(rec.facts.path_hashes.data(), hashes.data(), rec.facts.path_hashes.size() * 8);
    }
    auto facts = layer_facts_from_json(nlohmann::json::parse(facts_text, nullptr, false));
    if (!facts) return facts.error();
    auto hashes = std::move(rec.facts.path_hashes);
    rec.facts = std::move(*facts);
    rec.facts.path_hashes = std::move(hashes);
    return std::optional<LayerRecord>(std::move(rec));
  }

  Result<void> put_layer(const LayerRecord& l) override {
    // Serialised before the lock is taken: the writer is held only for the one row's write,
    // whose cost is the size of the facts, whatever the entry count.
    ++layer_writes_;
    std::string facts =
        to_json(l.facts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO layers(digest, media_type, compression, compressed_size, "
        "uncompressed_size, diff_id, entry_count, status, status_reason, analyzer_version, "
        "analyzed_at, facts, path_hashes, analyzer_versions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (!st) return st.error();
    const auto& f = l.facts;
    st->bind(1, l.digest);
    st->bind(2, l.media_type);
    st->bind(3, f.compression);
    st->bind(4, static_cast<std::int64_t>(f.compressed_size));
    st->bind(5, static_cast<std::int64_t>(f.uncompressed_size));
    st->bind(6, f.diff_id);
    st->bind(7, static_cast<std::int64_t>(f.entry_count));
    st->bind(8, layer_status_name(f.status));
    if (f.status_reason.empty())
      st->bind_null(9);
    else
      st->bind(9, f.status_reason);
    st->bind(10, std::int64_t{l.analyzer_version});
    st->bind(11, l.analyzed_at);
    st->bind(12, facts);
    st->bind_blob(13, f.path_hashes.data(), f.path_hashes.size() * 8);
    st->bind(14, nlohmann::json(f.analyzer_versions).dump());
    if (auto s = st->step(); !s) return s.error();
    return {};
  }

  Result<void> put_image(const ImageRecord& im, const std::optional<TagRecord>& tag) override {
    std::lock_guard lock(mu_);
    std::string now = now_rfc3339();
    return sqlite::transaction(db_, [&]() -> Result<void> {
      auto st = db_.prepare(
          "INSERT INTO images(manifest_digest, media_type, config_digest, os, architecture, "
          "variant, "
          "created, user, config, manifest, first_seen, last_scanned) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) "
          "ON CONFLICT(manifest_digest) DO UPDATE SET last_scanned = excluded.last_scanned");
      if (!st) return st.error();
      st->bind(1, im.manifest_digest);
      st->bind(2, im.media_type);
      st->bind(3, im.config_digest);
      st->bind(4, im.os);
      st->bind(5, im.architecture);
      st->bind(6, im.variant);
      st->bind(7, im.created);
      st->bind(8, im.user);
      st->bind(9, im.config);
      st->bind(10, im.manifest);
      st->bind(11, now);
      if (auto s = st->step(); !s) return s.error();
      auto del = db_.prepare("DELETE FROM image_layers WHERE manifest_digest = ?1");
      if (!del) return del.error();
      del->bind(1, im.manifest_digest);
      if (auto s = del->step(); !s) return s.error();
      for (std::size_t i = 0; i < im.layers.size(); ++i) {
        auto ins = db_.prepare(
            "INSERT INTO image_layers(manifest_digest, position, layer_digest, media_type, size, "
            "diff_id) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        if (!ins) return ins.error();
        auto& l = im.layers[i];
        ins->bind(1, im.manifest_digest);
        ins->bind(2, static_cast<std::int64_t>(i));
        ins->bind(3, l.digest);
        ins->bind(4, l.media_type);
        ins->bind(5, l.size);
        ins->bind(6, l.diff_id);
        if (auto s = ins->step(); !s) return s.error();
      }
      if (tag && !tag->tag.empty()) {
        auto t = db_.prepare(
            "INSERT INTO tags(registry, repository, tag, manifest_digest, first_seen, last_seen) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO UPDATE SET last_seen = "
            "excluded.last_seen");
        if (!t) return t.error();
        t->bind(1, tag->registry);
        t->bind(2, tag->repository);
        t->bind(3, tag->tag);
        t->bind(4, im.manifest_digest);
        t->bind(5, now);
        if (auto s = t->step(); !s) return s.error();
      }
      return {};
    });
  }

  Result<std::optional<ImageRecord>> get_image(const std::string& digest) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT media_type, config_digest, os, architecture, variant, created, user, config, "
        "manifest "
        "FROM images WHERE manifest_digest = ?1");
    if (!st) return st.error();
    st->bind(1, digest);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<ImageRecord>();
    ImageRecord im;
    im.manifest_digest = digest;
    im.media_type = st->text(0);
    im.config_digest = st->text(1);
    im.os = st->text(2);
    im.architecture = st->text(3);
    im.variant = st->text(4);
    im.created = st->text(5);
    im.user = st->text(6);
    im.config = st->text(7);
    im.manifest = st->text(8);
    auto ls = rdb_.prepare(
        "SELECT layer_digest, media_type, size, diff_id FROM image_layers "
        "WHERE manifest_digest = ?1 ORDER BY position");
    if (!ls) return ls.error();
    ls->bind(1, digest);
    if (auto done = sqlite::for_each_row(
            *ls,
            [&](const sqlite::Statement& row) {
              im.layers.push_back({row.text(0), row.text(1), row.integer(2), row.text(3)});
            });
        !done)
      return done.error();
    return std::optional<ImageRecord>(std::move(im));
  }

  Result<void> put_scan(const ScanRecord& s) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO scans(id, image, platform, status, manifest_digest, index_digest, error_code, "
        "error_message, progress, created_at, started_at, finished_at, policy, result, "
        "request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
        "ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
        "manifest_digest = excluded.manifest_digest, index_digest = excluded.index_digest, "
        "error_code = excluded.error_code, error_message = excluded.error_message, "
        "progress = excluded.progress, started_at = excluded.started_at, "
        "finished_at = excluded.finished_at, result = excluded.result "
        "WHERE scans.status IN ('queued', 'running')");
    if (!st) return st.error();
    auto bind_opt = [&](int i, const std::string& v) {
      if (v.empty())
        st->bind_null(i);
      else
        st->bind(i, v);
    };
    st->bind(1, s.id);
    st->bind(2, s.image);
    st->bind(3, s.platform);
    st->bind(4, std::string(scan_status_name(s.status)));
    bind_opt(5, s.manifest_digest);
    bind_opt(6, s.index_digest);
    bind_opt(7, s.error_code);
    bind_opt(8, s.error_message);
    st->bind(9, s.progress.empty() ? std::string("{}") : s.progress);
    st->bind(10, s.created_at);
    bind_opt(11, s.started_at);
    bind_opt(12, s.finished_at);
    bind_opt(13, s.policy);
    bind_opt(14, s.result);
    bind_opt(15, s.request_id);
    if (auto r = st->step(); !r) return r.error();
    return {};
  }

  static constexpr const char* kScanColumns =
      "id, image, platform, status, manifest_digest, index_digest, error_code, error_message, "
      "progress, created_at, started_at, finished_at, policy, result, request_id";

  static ScanRecord scan_from(const sqlite::Statement& st) {
    // A status this build does not know (a newer one wrote it) reads as failed: never re-run.
    return ScanRecord{st.text(0),  st.text(1),
                      st.text(2),  parse_scan_status(st.text(3)).value_or(ScanStatus::failed),
                      st.text(4),  st.text(5),
                      st.text(6),  st.text(7),
                      st.text(8),  st.text(9),
                      st.text(10), st.text(11),
                      st.text(12), st.text(13),
                      st.text(14)};
  }

  Result<std::optional<ScanRecord>> get_scan(const std::string& id) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(std::string("SELECT ") + kScanColumns + " FROM scans WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<ScanRecord>();
    return std::optional<ScanRecord>(scan_from(*st));
  }

  Result<std::vector<ScanRecord>> list_scans(const ScanQuery& q) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        std::string("SELECT ") + kScanColumns +
        " FROM scans WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR image = ?2) AND "
        "(?3 = '' OR seq < (SELECT seq FROM scans WHERE id = ?3)) ORDER BY seq DESC LIMIT ?4");
    if (!st) return st.error();
    st->bind(1, q.status ? std::string(scan_status_name(*q.status)) : std::string());
    st->bind(2, q.image);
    st->bind(3, q.before_id);
    st->bind(4, static_cast<std::int64_t>(q.limit));
    std::vector<ScanRecord> out;
    if (auto done = sqlite::for_each_row(
            *st, [&](const sqlite::Statement& row) { out.push_back(scan_from(row)); });
        !done)
      return done.error();
    return out;
  }

  Result<std::vector<ScanResultRow>> list_scan_results(const std::string& since,
                                                       const std::string& prefix) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT finished_at, image, manifest_digest, json_extract(result, '$.score'), "
        "json_extract(result, '$.grade') FROM scans WHERE status = 'done' AND result IS NOT NULL "
        "AND json_valid(result) AND finished_at >= ?1 AND substr(image, 1, length(?2)) = ?2 "
        "ORDER BY finished_at, seq");
    if (!st) return st.error();
    st->bind(1, since);
    st->bind(2, prefix);
    std::vector<ScanResultRow> out;
    if (auto done =
            sqlite::for_each_row(*st,
                                 [&](const sqlite::Statement& row) {
                                   out.push_back({row.text(0), row.text(1), row.text(2),
                                                  static_cast<int>(row.integer(3)), row.text(4)});
                                 });
        !done)
      return done.error();
    return out;
  }

  Result<std::uint64_t> count_scans(ScanStatus status) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare("SELECT COUNT(*) FROM scans WHERE status = ?1");
    if (!st) return st.error();
    st->bind(1, scan_status_name(status));
    auto r = st->step();
    if (!r) return r.error();
    return static_cast<std::uint64_t>(st->integer(0));
  }

  Result<std::vector<ScanRecord>> claim_queued_scans(const std::string& owner,
                                                     std::chrono::seconds ttl, std::size_t limit,
                                                     const std::string& started_at) override {
    {
      // Replicas poll the queue every second: an empty one must not take the write lock (nor
      // wait on another writer's).
      std::lock_guard read(read_mu_);
      auto any = rdb_.prepare("SELECT 1 FROM scans WHERE status = 'queued' LIMIT 1");
      if (!any) return any.error();
      auto row = any->step();
      if (!row) return row.error();
      if (!*row) return std::vector<ScanRecord>();
    }
    std::lock_guard lock(mu_);
    std::vector<ScanRecord> claimed;
    auto r = sqlite::transaction(db_, [&]() -> Result<void> {
      auto st = db_.prepare(std::string("SELECT ") + kScanColumns +
                            " FROM scans WHERE status = 'queued' ORDER BY seq LIMIT ?1");
      if (!st) return st.error();
      st->bind(1, static_cast<std::int64_t>(limit));
      if (auto done = sqlite::for_each_row(
              *st, [&](const sqlite::Statement& row) { claimed.push_back(scan_from(row)); });
          !done)
        return done.error();
      for (auto& scan : claimed) {
        auto up = db_.prepare("UPDATE scans SET status = 'running', started_at = ?2 WHERE id = ?1");
        if (!up) return up.error();
        up->bind(1, scan.id);
        up->bind(2, started_at);
        if (auto done = up->step(); !done) return done.error();
        scan.status = ScanStatus::running;
        scan.started_at = started_at;
      }
      return {};
    });
    if (!r) return r.error();
    // The claim is the row's move to running; the lease only says the claimant is alive.
    std::lock_guard leases(lease_mu_);
    for (auto& scan : claimed)
      leases_["scan:" + scan.id] = {owner, std::chrono::steady_clock::now() + ttl};
    return claimed;
  }

  Result<std::optional<ScanStatus>> cancel_scan(const std::string& id,
                                                const std::string& finished_at) override {
    std::lock_guard lock(mu_);
    std::optional<ScanStatus> was;
    auto r = sqlite::transaction(db_, [&]() -> Result<void> {
      auto st = db_.prepare("SELECT status FROM scans WHERE id = ?1");
      if (!st) return st.error();
      st->bind(1, id);
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) return {};
      auto status = parse_scan_status(st->text(0));
      if (!status || is_finished(*status)) return {};
      auto up = db_.prepare(
          "UPDATE scans SET status = 'cancelled', error_code = 'cancelled', "
          "error_message = 'cancelled by request', finished_at = ?2 WHERE id = ?1");
      if (!up) return up.error();
      up->bind(1, id);
      up->bind(2, finished_at);
      if (auto done = up->step(); !done) return done.error();
      was = status;
      return {};
    });
    if (!r) return r.error();
    return was;
  }

  Result<std::vector<std::string>> list_image_digests() override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare("SELECT manifest_digest FROM images ORDER BY last_scanned DESC");
    if (!st) return st.error();
    std::vector<std::string> out;
    if (auto done = sqlite::for_each_row(
            *st, [&](const sqlite::Statement& row) { out.push_back(row.text(0)); });
        !done)
      return done.error();
    return out;
  }

  Result<std::vector<ImageRow>> list_images(const ImageQuery& q) override {
    std::lock_guard lock(read_mu_);
    std::string order = q.sort == "score"          ? "r.score IS NULL, r.score ASC"
                        : q.sort == "-score"       ? "r.score IS NULL, r.score DESC"
                        : q.sort == "last_scanned" ? "i.last_scanned ASC"
                                                   : "i.last_scanned DESC";
    auto st = rdb_.prepare(
        "SELECT i.manifest_digest, i.os || '/' || i.architecture || CASE WHEN i.variant = '' THEN "
        "'' ELSE '/' || i.variant END, "
        "(SELECT registry FROM tags x WHERE x.manifest_digest = i.manifest_digest ORDER BY "
        "last_seen DESC LIMIT 1), "
        "(SELECT repository FROM tags x WHERE x.manifest_digest = i.manifest_digest ORDER BY "
        "last_seen DESC LIMIT 1), "
        "(SELECT tag FROM tags x WHERE x.manifest_digest = i.manifest_digest ORDER BY last_seen "
        "DESC LIMIT 1), "
        "i.last_scanned, r.score, r.grade "
        "FROM images i "
        "LEFT JOIN reports r ON r.manifest_digest = i.manifest_digest AND r.ruleset_version = ?1 "
        "WHERE (?2 = '' OR EXISTS (SELECT 1 FROM tags x WHERE x.manifest_digest = "
        "i.manifest_digest AND x.registry = ?2)) "
        "AND (?3 = '' OR EXISTS (SELECT 1 FROM tags x WHERE x.manifest_digest = i.manifest_digest "
        "AND x.repository = ?3)) "
        "AND (?4 = '' OR r.grade = ?4) AND (?5 < 0 OR r.score >= ?5) AND (?6 < 0 OR r.score <= ?6) "
        "AND (?7 = '' OR i.last_scanned >= ?7) "
        "ORDER BY " +
        order + ", i.manifest_digest LIMIT ?8 OFFSET ?9");
    if (!st) return st.error();
    st->bind(1, q.ruleset_version);
    st->bind(2, q.registry);
    st->bind(3, q.repository);
    st->bind(4, q.grade);
    st->bind(5, std::int64_t{q.min_score});
    st->bind(6, std::int64_t{q.max_score});
    st->bind(7, q.since);
    st->bind(8, static_cast<std::int64_t>(q.limit));
    st->bind(9, static_cast<std::int64_t>(q.offset));
    std::vector<ImageRow> out;
    if (auto done = sqlite::for_each_row(
            *st,
            [&](const sqlite::Statement& row) {
              out.push_back(ImageRow{
                  row.text(0), row.text(1), row.text(2), row.text(3), row.text(4), row.text(5),
                  row.is_null(6) ? -1 : static_cast<int>(row.integer(6)), row.text(7)});
            });
        !done)
      return done.error();
    return out;
  }

  Result<std::vector<RepositoryRow>> list_repositories(const std::string& registry,
                                                       std::size_t limit,
                                                       std::size_t offset) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT registry, repository, COUNT(DISTINCT tag), MAX(last_seen) FROM tags WHERE (?1 = '' "
        "OR registry = ?1) "
        "GROUP BY registry, repository ORDER BY registry, repository LIMIT ?2 OFFSET ?3");
    if (!st) return st.error();
    st->bind(1, registry);
    st->bind(2, static_cast<std::int64_t>(limit));
    st->bind(3, static_cast<std::int64_t>(offset));
    std::vector<RepositoryRow> out;
    if (auto done = sqlite::for_each_row(*st,
                                         [&](const sqlite::Statement& row) {
                                           out.push_back({row.text(0), row.text(1),
                                                          static_cast<std::size_t>(row.integer(2)),
                                                          row.text(3)});
                                         });
        !done)
      return done.error();
    return out;
  }

  Result<std::vector<TagRow>> list_tags(const std::string& registry, const std::string& repository,
                                        const std::string& ruleset_version) override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT t.tag, t.manifest_digest, t.first_seen, t.last_seen, r.score, r.grade FROM tags t "
        "LEFT JOIN reports r ON r.manifest_digest = t.manifest_digest AND r.ruleset_version = ?3 "
        "WHERE t.registry = ?1 AND t.repository = ?2 ORDER BY t.tag, t.last_seen DESC");
    if (!st) return st.error();
    st->bind(1, registry);
    st->bind(2, repository);
    st->bind(3, ruleset_version);
    std::vector<TagRow> out;
    if (auto done = sqlite::for_each_row(
            *st,
            [&](const sqlite::Statement& row) {
              out.push_back({row.text(0), row.text(1), row.text(2), row.text(3),
                             row.is_null(4) ? -1 : static_cast<int>(row.integer(4)), row.text(5)});
            });
        !done)
      return done.error();
    return out;
  }

  Result<nlohmann::json> stats(const std::string& ruleset_version) override {
    std::lock_guard lock(read_mu_);
    nlohmann::json out = nlohmann::json::object();
    auto scalar = [&](const char* sql) -> Result<std::int64_t> {
      auto st = rdb_.prepare(sql);
      if (!st) return st.error();
      auto r = st->step();
      if (!r) return r.error();
      return st->integer(0);
    };
    for (auto [key, sql] :
         {std::pair{"images", "SELECT COUNT(*) FROM images"},
          {"layers", "SELECT COUNT(*) FROM layers"},
          {"repositories", "SELECT COUNT(*) FROM (SELECT DISTINCT registry, repository FROM tags)"},
          {"uncompressed_bytes_analyzed", "SELECT COALESCE(SUM(uncompressed_size), 0) FROM layers"},
          {"compressed_bytes_fetched", "SELECT COALESCE(SUM(compressed_size), 0) FROM layers"}}) {
      auto v = scalar(sql);
      if (!v) return v.error();
      out[key] = *v;
    }
    nlohmann::json scans = nlohmann::json::object(), grades = nlohmann::json::object();
    auto st = rdb_.prepare("SELECT status, COUNT(*) FROM scans GROUP BY status");
    if (!st) return st.error();
    if (auto done = sqlite::for_each_row(
            *st, [&](const sqlite::Statement& row) { scans[row.text(0)] = row.integer(1); });
        !done)
      return done.error();
    auto g = rdb_.prepare(
        "SELECT grade, COUNT(*) FROM reports WHERE ruleset_version = ?1 GROUP BY grade");
    if (!g) return g.error();
    g->bind(1, ruleset_version);
    if (auto done = sqlite::for_each_row(
            *g, [&](const sqlite::Statement& row) { grades[row.text(0)] = row.integer(1); });
        !done)
      return done.error();
    out["scans"] = scans;
    out["grades"] = grades;
    // Base images in use, and images on an operating system past its end of life, from the
    // reports under this ruleset.
    nlohmann::json bases = nlohmann::json::array();
    auto b = rdb_.prepare(
        "SELECT COALESCE(json_extract(report, '$.base.name'), ''), COUNT(*) FROM reports "
        "WHERE ruleset_version = ?1 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50");
    if (!b) return b.error();
    b->bind(1, ruleset_version);
    if (auto done = sqlite::for_each_row(
            *b,
            [&](const sqlite::Statement& row) {
              bases.push_back({{"base", row.text(0)}, {"images", row.integer(1)}});
            });
        !done)
      return done.error();
    out["bases"] = bases;
    auto eol = rdb_.prepare(
        "SELECT COUNT(*) FROM reports WHERE ruleset_version = ?1 AND EXISTS (SELECT 1 FROM "
        "json_each(reports.report, '$.findings') WHERE json_extract(value, '$.rule_id') = "
        "'BW-OS-EOL' AND NOT json_extract(value, '$.suppressed'))");
    if (!eol) return eol.error();
    eol->bind(1, ruleset_version);
    if (auto r = eol->step(); !r) return r.error();
    out["eol_os_images"] = eol->integer(0);
    return out;
  }

  Result<void> put_report(const ReportRecord& r) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO reports(manifest_digest, ruleset_version, image_ref, score, grade, "
        "report, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return st.error();
    st->bind(1, r.manifest_digest);
    st->bind(2, r.ruleset_version);
    st->bind(3, r.image_ref);
    st->bind(4, std::int64_t{r.score});
    st->bind(5, r.grade);
    st->bind(6, r.report);
    st->bind(7, now_rfc3339());
    if (auto s = st->step(); !s) return s.error();
    return {};
  }

  Result<std::optional<ReportRecord>> report_query(const char* sql, const std::string& a,
                                                   const std::string& b) {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(sql);
    if (!st) return st.error();
    st->bind(1, a);
    if (!b.empty()) st->bind(2, b);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<ReportRecord>();
    return std::optional<ReportRecord>(ReportRecord{st->text(0), st->text(1), st->text(2),
                                                    static_cast<int>(st->integer(3)), st->text(4),
                                                    st->text(5)});
  }

  Result<std::optional<ReportRecord>> get_report(const std::string& digest,
                                                 const std::string& version) override {
    return report_query(
        "SELECT manifest_digest, ruleset_version, image_ref, score, grade, report FROM reports "
        "WHERE manifest_digest = ?1 AND ruleset_version = ?2",
        digest, version);
  }

  Result<std::optional<ReportRecord>> latest_report(const std::string& digest) override {
    return report_query(
        "SELECT manifest_digest, ruleset_version, image_ref, score, grade, report FROM reports "
        "WHERE manifest_digest = ?1 ORDER BY created_at DESC LIMIT 1",
        digest, "");
  }

  Result<void> clear_reports() override {
    std::lock_guard lock(mu_);
    return db_.exec("DELETE FROM reports");
  }

  Result<std::vector<SuppressionRecord>> list_suppressions() override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare(
        "SELECT rule_id, path, env_key, reason, created_at FROM suppressions ORDER BY id");
    if (!st) return st.error();
    std::vector<SuppressionRecord> out;
    if (auto done = sqlite::for_each_row(
            *st,
            [&](const sqlite::Statement& row) {
              out.push_back({row.text(0), row.text(1), row.text(2), row.text(3), row.text(4)});
            });
        !done)
      return done.error();
    return out;
  }

  Result<void> replace_suppressions(const std::vector<SuppressionRecord>& list) override {
    std::lock_guard lock(mu_);
    return sqlite::transaction(db_, [&]() -> Result<void> {
      if (auto r = db_.exec("DELETE FROM suppressions"); !r) return r;
      if (auto r = db_.exec("DELETE FROM reports"); !r) return r;
      for (auto& s : list) {
        auto st = db_.prepare(
            "INSERT INTO suppressions(rule_id, path, env_key, reason, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        if (!st) return st.error();
        st->bind(1, s.rule_id);
        st->bind(2, s.path);
        st->bind(3, s.env_key);
        st->bind(4, s.reason);
        st->bind(5, s.created_at.empty() ? now_rfc3339() : s.created_at);
        if (auto r = st->step(); !r) return r.error();
      }
      return {};
    });
  }

  Result<void> put_reference_image(const std::string& name, const std::string& digest) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO reference_images(name, manifest_digest) VALUES (?1, ?2)");
    if (!st) return st.error();
    st->bind(1, name);
    st->bind(2, digest);
    if (auto r = st->step(); !r) return r.error();
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> list_reference_images() override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare("SELECT name, manifest_digest FROM reference_images ORDER BY name");
    if (!st) return st.error();
    std::vector<std::pair<std::string, std::string>> out;
    if (auto done = sqlite::for_each_row(
            *st, [&](const sqlite::Statement& row) { out.emplace_back(row.text(0), row.text(1)); });
        !done)
      return done.error();
    return out;
  }

  // One process owns a SQLite store: leases only order that process's own claims.
  Result<bool> acquire_lease(const std::string& key, const std::string& owner,
                             std::chrono::seconds ttl) override {
    std::lock_guard lock(lease_mu_);
    auto now = std::chrono::steady_clock::now();
    auto it = leases_.find(key);
    if (it != leases_.end() && it->second.first != owner && it->second.second > now) return false;
    leases_[key] = {owner, now + ttl};
    return true;
  }
  Result<void> release_lease(const std::string& key, const std::string& owner) override {
    std::lock_guard lock(lease_mu_);
    if (auto it = leases_.find(key); it != leases_.end() && it->second.first == owner)
      leases_.erase(it);
    return {};
  }

  Result<std::vector<int>> schema_versions() override {
    std::lock_guard lock(read_mu_);
    return versions_locked(rdb_);
  }

  Result<std::string> integrity_check() override {
    std::lock_guard lock(read_mu_);
    auto st = rdb_.prepare("PRAGMA integrity_check");
    if (!st) return st.error();
    auto r = st->step();
    if (!r) return r.error();
    return st->text(0);
  }

 private:
  static Result<std::vector<int>> versions_locked(Database& db) {
    auto st = db.prepare("SELECT version FROM schema_migrations ORDER BY version");
    if (!st) return st.error();
    std::vector<int> out;
    if (auto done = sqlite::for_each_row(
            *st,
            [&](const sqlite::Statement& row) { out.push_back(static_cast<int>(row.integer(0))); });
        !done)
      return done.error();
    return out;
  }

  // Two connections, so that a reader never waits for a writer (WAL lets them run at once):
  // the io thread's reads stay quick while a worker stores a large layer.
  std::mutex mu_;
  Database db_;  // the writer; guarded by mu_
  std::mutex read_mu_;
  Database rdb_;  // the reader; guarded by read_mu_
  std::mutex lease_mu_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> leases_;
  std::atomic<std::uint64_t> layer_reads_{0};
  std::atomic<std::uint64_t> layer_writes_{0};
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options) {
  std::error_code ec;
  auto dir = std::filesystem::path(options.path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::internal, "cannot create " + dir.string() + ": " + ec.message());
  auto db = Database::open(options.path, options.busy_timeout_ms);
  if (!db) return db.error();
  for (auto pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"})
    if (auto r = db->exec(pragma); !r) return r.error();
  auto reader = Database::open(options.path, options.busy_timeout_ms);
  if (!reader) return reader.error();
  if (auto r = reader->exec("PRAGMA query_only = ON"); !r) return r.error();
  auto store = std::make_unique<SqliteStore>(std::move(*db), std::move(*reader));
  if (auto r = store->migrate(); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace bw
