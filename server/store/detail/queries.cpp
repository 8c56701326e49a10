#include "store/detail/queries.h"

#include "common/digest.h"

#include <algorithm>
#include <charconv>

namespace bw::queries {

namespace {

bool score_sort(const std::string& sort) {
  return sort == "score" || sort == "-score";
}

// "%text%" for LIKE, lower-cased, with LIKE's own characters taken literally.
std::string like_pattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out + "%";
}

// Whether the trigram index can serve a search for `text`: three characters or more (a trigram
// needs three), and none of LIKE's own (SQLite's FTS5 serves LIKE without ESCAPE only).
bool trigram_search(std::string_view text) {
  std::size_t chars = 0;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') return false;
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  }
  return chars >= 3;
}

}  // namespace

Sql image_page(const ImageQuery& q, char placeholder) {
  Sql out;
  auto param = [&](const std::string& v) {
    out.params.push_back(v);
    return std::string(1, placeholder) + std::to_string(out.params.size());
  };
  const std::string rs = param(q.ruleset_version);
  // SQLite: the matches from the names' trigram index first (CROSS JOIN keeps that order), each
  // summary looked up by its key, the few sorted.
  const bool from_names = placeholder == '?' && !q.search.empty() && trigram_search(q.search);
  std::string from = "image_summaries";
  if (from_names)
    from =
        "(SELECT n.manifest_digest AS found FROM image_names_fts f JOIN image_names n ON n.id = "
        "f.rowid WHERE f.name LIKE " +
        param("%" + q.search + "%") +
        ") m CROSS JOIN image_summaries ON image_summaries.manifest_digest = m.found";
  out.text =
      "SELECT manifest_digest, platform, registry, repository, tag, last_scanned, CASE WHEN "
      "ruleset_version = " +
      rs + " THEN score ELSE -1 END, CASE WHEN ruleset_version = " + rs +
      " THEN grade ELSE '' END, score, CASE WHEN ruleset_version = " + rs +
      " THEN severity_counts ELSE '' END, CASE WHEN ruleset_version = " + rs +
      " THEN top_finding ELSE '' END FROM " + from + " WHERE 1 = 1";
  if (!q.registry.empty()) out.text += " AND registry = " + param(q.registry);
  if (!q.repository.empty()) out.text += " AND repository = " + param(q.repository);
  if (!q.grade.empty())
    out.text += " AND ruleset_version = " + rs + " AND grade = " + param(q.grade);
  if (q.min_score >= 0 || q.max_score >= 0) out.text += " AND ruleset_version = " + rs;
  if (q.min_score >= 0) out.text += " AND score >= " + std::to_string(q.min_score);
  if (q.max_score >= 0) out.text += " AND score <= " + std::to_string(q.max_score);
  if (!q.since.empty()) out.text += " AND last_scanned >= " + param(q.since);
  // A filter on the walk of the sort key's index: a page costs the rows passed over to fill
  // it, at worst one pass over that index, never a sort.
  if (!q.search.empty() && !from_names)
    out.text += " AND lower(registry || '/' || repository || ':' || tag) LIKE " +
                param(like_pattern(q.search)) + " ESCAPE '\\'";
  const bool by_score = score_sort(q.sort);
  // Images not scored yet have no place in an order by score.
  if (by_score) out.text += " AND score >= 0";
  const bool descending = q.sort.starts_with('-');
  const std::string key = by_score ? "score" : "last_scanned";
  if (!q.after_digest.empty()) {
    std::string after_key = by_score ? q.after_key : param(q.after_key);
    out.text += " AND (" + key + ", manifest_digest) " + (descending ? "<" : ">") + " (" +
                after_key + ", " + param(q.after_digest) + ")";
  }
  const char* dir = descending ? " DESC" : " ASC";
  out.text +=
      " ORDER BY " + key + dir + ", manifest_digest" + dir + " LIMIT " + std::to_string(q.limit);
  return out;
}

const std::vector<StatsStatement>& stats_statements() {
  static const std::vector<StatsStatement> s = {
      // Counters kept by triggers as rows are written (schema/011_fleet_counts.sql): a few rows
      // whatever the fleet's size. Grouped names are matched by prefix over the small table.
      {"images", "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = 'images'", false},
      {"layers", "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = 'layers'", false},
      {"repositories",
       "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = 'repositories'", false},
      {"uncompressed_bytes_analyzed",
       "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = "
       "'uncompressed_bytes_analyzed'",
       false},
      {"compressed_bytes_fetched",
       "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = 'compressed_bytes_fetched'",
       false},
      {"scans",
       "SELECT substr(name, 7), value FROM fleet_counts WHERE substr(name, 1, 6) = 'scans|' AND "
       "value <> 0",
       true},
      {"grades",
       "SELECT substr(name, length(CAST(?1 AS TEXT)) + 8), value FROM fleet_counts WHERE "
       "substr(name, 1, "
       "length(CAST(?1 AS TEXT)) + 7) = 'grade|' || CAST(?1 AS TEXT) || '|' AND value <> 0",
       true},
      {"bases",
       "SELECT substr(name, length(CAST(?1 AS TEXT)) + 7), value FROM fleet_counts WHERE "
       "substr(name, 1, "
       "length(CAST(?1 AS TEXT)) + 6) = 'base|' || CAST(?1 AS TEXT) || '|' AND value <> 0",
       true},
      {"eol_os_images",
       "SELECT COALESCE(MAX(value), 0) FROM fleet_counts WHERE name = 'eol|' || CAST(?1 AS TEXT)",
       false},
  };
  return s;
}

nlohmann::json stats_json(
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::int64_t>>>>&
        rows) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [key, values] : rows) {
    if (key == "bases") {
      auto sorted = values;
      std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      if (sorted.size() > 50) sorted.resize(50);
      nlohmann::json list = nlohmann::json::array();
      for (auto& [name, n] : sorted) list.push_back({{"base", name}, {"images", n}});
      out[key] = std::move(list);
    } else if (key == "scans" || key == "grades") {
      nlohmann::json object = nlohmann::json::object();
      for (auto& [name, n] : values) object[name] = n;
      out[key] = std::move(object);
    } else {
      out[key] = values.empty() ? 0 : values.front().second;
    }
  }
  return out;
}

std::vector<Sql> dashboard_statements(const std::string& ruleset_version, char placeholder) {
  std::vector<Sql> out;
  const std::string digest = "sha256:" + std::string(64, '0');
  for (const char* sort : {"-last_scanned", "last_scanned", "-score", "score"}) {
    ImageQuery q;
    q.ruleset_version = ruleset_version;
    q.sort = sort;
    out.push_back(image_page(q, placeholder));
    bool by_score = q.sort.find("score") != std::string::npos;
    q.after_key = by_score ? "50" : "2026-01-01T00:00:00Z";
    q.after_digest = digest;
    out.push_back(image_page(q, placeholder));
  }
  ImageQuery search;
  search.ruleset_version = ruleset_version;
  search.search = "team/";
  out.push_back(image_page(search, placeholder));
  out.push_back({queries::kUntagMovedSummaries,
                 {"registry.example", "team/app", "1", "sha256:" + std::string(64, '0')}});
  ImageQuery repo;
  repo.ruleset_version = ruleset_version;
  repo.registry = "registry.example";
  repo.repository = "team/app";
  out.push_back(image_page(repo, placeholder));
  for (auto& st : stats_statements()) {
    Sql s{st.sql, {}};
    if (s.text.find("?1") != std::string::npos) s.params.push_back(ruleset_version);
    out.push_back(std::move(s));
  }
  out.push_back(
      {"SELECT finished_at, image, manifest_digest, score, grade, scans FROM "
       "daily_results WHERE day >= substr(?1, 1, 10) ORDER BY day, finished_at",
       {"2026-01-01"}});
  out.push_back(
      {"SELECT day, images, scans, score_sum FROM fleet_days WHERE day >= "
       "COALESCE((SELECT max(day) FROM fleet_days WHERE day < ?1), ?1) ORDER BY day",
       {"2026-01-01"}});
  out.push_back({"SELECT day, grade, images FROM fleet_day_grades WHERE day >= ?1 AND images > 0",
                 {"2026-01-01"}});
  out.push_back(
      {"SELECT day, min(score) FROM fleet_day_scores WHERE day >= ?1 AND images > 0 "
       "GROUP BY day",
       {"2026-01-01"}});
  out.push_back(
      {"SELECT s.manifest_digest, COALESCE(s.index_digest, '') FROM scans s WHERE "
       "s.image = ?1 AND s.status = 'done' AND s.platform = ?2 AND s.manifest_digest "
       "IS NOT NULL AND EXISTS (SELECT 1 FROM reports r WHERE r.manifest_digest = "
       "s.manifest_digest AND r.ruleset_version = ?3) ORDER BY s.seq DESC LIMIT 1",
       {"registry.example/team/app:1", "linux/amd64", ruleset_version}});
  out.push_back(
      {"SELECT 1 FROM scans WHERE image = ?1 AND status IN ('queued', 'running') "
       "LIMIT 1",
       {"registry.example/team/app:1"}});
  out.push_back({"SELECT id FROM scans WHERE image = ?1 ORDER BY seq DESC LIMIT 50",
                 {"registry.example/team/app:1"}});
  out.push_back({"SELECT id FROM scans WHERE status = ?1 ORDER BY seq DESC LIMIT 50", {"done"}});
  if (placeholder != '?')
    for (auto& s : out) s.text = dollar_placeholders(s.text);
  return out;
}

std::string platform_of(const ImageRecord& image) {
  return image.os + "/" + image.architecture +
         (image.variant.empty() ? std::string() : "/" + image.variant);
}

bool result_score(const std::string& result_json, int& score, std::string& grade) {
  auto j = nlohmann::json::parse(result_json, nullptr, false);
  if (!j.is_object()) return false;
  auto s = j.find("score");
  auto g = j.find("grade");
  if (s == j.end() || !s->is_number_integer() || g == j.end() || !g->is_string()) return false;
  score = s->get<int>();
  grade = g->get<std::string>();
  return true;
}

std::string dollar_placeholders(std::string sql) {
  for (std::size_t i = 0; (i = sql.find('?', i)) != std::string::npos; ++i) sql[i] = '$';
  return sql;
}

}  // namespace bw::queries

namespace bw {

std::string image_cursor(const ImageRow& row, const std::string& sort) {
  bool by_score = sort == "score" || sort == "-score";
  return (by_score ? std::to_string(row.sort_score) : row.last_scanned) + "," + row.manifest_digest;
}

bool parse_image_cursor(std::string_view cursor, const std::string& sort, ImageQuery& q) {
  auto comma = cursor.rfind(',');
  if (comma == std::string_view::npos) return false;
  std::string_view key = cursor.substr(0, comma), digest = cursor.substr(comma + 1);
  if (!is_valid_digest(digest) || key.empty() || key.size() > 64) return false;
  if (sort == "score" || sort == "-score") {
    int v = 0;
    auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), v);
    if (ec != std::errc() || p != key.data() + key.size() || v < -1 || v > 100) return false;
  } else {
    for (char c : key)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '.' ||
            c == '+'))
        return false;
  }
  q.after_key = std::string(key);
  q.after_digest = std::string(digest);
  return true;
}

}  // namespace bw
