#include "common/log.h"
#include "store/detail/pg.h"
#include "store/detail/sqlite.h"
#include "store/store.h"

#include <string_view>

namespace bw {
namespace {

struct TableCopy {
  std::string_view table;
  std::vector<std::string_view> columns;
  std::string_view order;        // the source order, kept (scans' sequence, suppressions' ids)
  std::string_view blob_column;  // copied as BYTEA
};

// Parents before children, so that foreign keys hold at every insert.
const std::vector<TableCopy>& tables() {
  static const std::vector<TableCopy> t = {
      {"layers",
       {"digest", "media_type", "compression", "compressed_size", "uncompressed_size", "diff_id",
        "entry_count", "status", "status_reason", "analyzer_version", "analyzed_at", "facts",
        "path_hashes", "analyzer_versions"},
       "digest",
       "path_hashes"},
      {"images",
       {"manifest_digest", "media_type", "config_digest", "os", "architecture", "variant",
        "created", "user", "config", "manifest", "first_seen", "last_scanned"},
       "manifest_digest",
       ""},
      {"image_layers",
       {"manifest_digest", "position", "layer_digest", "media_type", "size", "diff_id"},
       "manifest_digest, position",
       ""},
      {"tags",
       {"registry", "repository", "tag", "manifest_digest", "first_seen", "last_seen"},
       "registry, repository, tag, manifest_digest",
       ""},
      {"scans",
       {"id", "image", "platform", "status", "manifest_digest", "index_digest", "error_code",
        "error_message", "progress", "created_at", "started_at", "finished_at", "policy", "result",
        "request_id"},
       "seq",
       ""},
      {"reports",
       {"manifest_digest", "ruleset_version", "image_ref", "score", "grade", "report",
        "created_at"},
       "manifest_digest, ruleset_version",
       ""},
      {"image_summaries",
       {"manifest_digest", "platform", "registry", "repository", "tag", "last_scanned",
        "ruleset_version", "score", "grade", "base", "eol", "severity_counts", "top_finding"},
       "manifest_digest",
       ""},
      {"daily_results",
       {"day", "image", "manifest_digest", "score", "grade", "finished_at", "scans"},
       "day, image",
       ""},
      {"latest_results", {"image", "score", "grade", "finished_at"}, "image", ""},
      {"fleet_days", {"day", "images", "scans", "score_sum"}, "day", ""},
      {"fleet_day_grades", {"day", "grade", "images"}, "day, grade", ""},
      {"fleet_day_scores", {"day", "score", "images"}, "day, score", ""},
      {"suppressions",
       {"rule_id", "path", "env_key", "reason", "created_at", "image", "expires"},
       "id",
       ""},
      {"reference_images", {"name", "manifest_digest"}, "name", ""},
  };
  return t;
}

std::string quoted(std::string_view column) {
  return "\"" + std::string(column) + "\"";
}

}  // namespace

Result<std::map<std::string, std::size_t>> copy_sqlite_to_postgres(const std::string& sqlite_path,
                                                                   const std::string& pg_url) {
  // Both ends at the current schema first: the source's pending migrations, the target's.
  if (auto s = open_sqlite_store({sqlite_path}); !s) return s.error();
  if (auto t = open_postgres_store(pg_url); !t) return t.error();
  auto src = sqlite::Database::open(sqlite_path, 5000);
  if (!src) return src.error();
  auto dst = pg::Connection::open(pg_url);
  if (!dst) return dst.error();
  for (auto& t : tables()) {
    auto count = dst->exec("SELECT COUNT(*) FROM " + std::string(t.table));
    if (!count) return count.error();
    if (count->integer(0, 0) != 0)
      return make_error(Errc::bad_request, "the target store is not empty (" +
                                               std::string(t.table) +
                                               " has rows): copy into a new database");
  }
  std::map<std::string, std::size_t> copied;
  auto r = dst->transaction([&]() -> Result<void> {
    for (auto& t : tables()) {
      std::string cols, placeholders;
      for (std::size_t i = 0; i < t.columns.size(); ++i) {
        cols += (i ? ", " : "") + quoted(t.columns[i]);
        placeholders += (i ? ", $" : "$") + std::to_string(i + 1) +
                        (t.columns[i] == t.blob_column ? "::bytea" : "");
      }
      std::string insert =
          "INSERT INTO " + std::string(t.table) + "(" + cols + ") VALUES (" + placeholders + ")";
      auto st = src->prepare("SELECT " + cols + " FROM " + std::string(t.table) + " ORDER BY " +
                             std::string(t.order));
      if (!st) return st.error();
      std::optional<Error> failed;
      std::size_t n = 0;
      auto each = sqlite::for_each_row(*st, [&](const sqlite::Statement& row) {
        if (failed) return;
        std::vector<pg::Param> params;
        for (std::size_t i = 0; i < t.columns.size(); ++i) {
          int c = static_cast<int>(i);
          if (row.is_null(c))
            params.emplace_back();
          else if (t.columns[i] == t.blob_column)
            params.emplace_back(pg::bytea_hex(row.blob(c)));
          else
            params.emplace_back(row.text(c));
        }
        if (auto ins = dst->exec(insert, params); !ins)
          failed = ins.error();
        else
          ++n;
      });
      if (!each) return each.error();
      if (failed) return *failed;
      copied[std::string(t.table)] = n;
    }
    return {};
  });
  if (!r) return r.error();
  log::info("store copied", {{"from", "sqlite:" + sqlite_path}, {"to", pg::redact(pg_url)}});
  return copied;
}

}  // namespace bw
