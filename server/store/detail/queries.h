// Statements both backends run the same way, built once with the backend's placeholder.
// Private to store/.
#pragma once

#include "store/store.h"

#include <string>
#include <vector>

namespace bw::queries {

struct Sql {
  std::string text;                 // placeholders ?1… (SQLite) or $1… (PostgreSQL)
  std::vector<std::string> params;  // every parameter as text, in placeholder order
};

// One page of image summaries, keyset-paginated on an indexed sort key: the cost is the page,
// whatever the number of images. Integers (limits, scores) are validated numbers written into
// the text; strings are parameters. A search of three characters or more starts from the
// names' trigram index (SQLite: the image_names_fts table, placeholder '?'; PostgreSQL: a
// pg_trgm index on the name the filter computes), so that its cost is the matches, not the
// store.
Sql image_page(const ImageQuery& q, char placeholder);

// The statements of /v1/stats, each returning (key, count) rows or one count; parameter ?1 is
// the ruleset version.
struct StatsStatement {
  const char* key;
  const char* sql;  // ?1 placeholders: the caller rewrites them for PostgreSQL
  bool grouped;     // (name, count) rows rather than one value
};
const std::vector<StatsStatement>& stats_statements();

// Builds /v1/stats' document from the rows of stats_statements(), in their order: counts as
// numbers, grouped ones as objects, bases as a list, most used first (at most 50).
nlohmann::json stats_json(
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::int64_t>>>>&
        rows);

// Every statement a dashboard poll or a registry pass runs, with sample parameters, for the
// backends' dashboard_query_plans().
std::vector<Sql> dashboard_statements(const std::string& ruleset_version, char placeholder);

// "os/arch[/variant]".
std::string platform_of(const ImageRecord& image);

// Drops every summary's score: the reports it came from are gone.
inline constexpr const char* kUnscoreSummaries =
    "UPDATE image_summaries SET ruleset_version = '', score = -1, grade = '', base = '', eol = 0, "
    "severity_counts = '', top_finding = ''";

// A report's figures copied into its image's summary: ?1 digest, ?2 ruleset, ?3 score, ?4
// grade, ?5 base, ?6 eol (0/1), ?7 severity counts, ?8 top finding.
inline constexpr const char* kSummarizeReport =
    "UPDATE image_summaries SET ruleset_version = ?2, score = ?3, grade = ?4, base = ?5, eol = ?6, "
    "severity_counts = ?7, top_finding = ?8 WHERE manifest_digest = ?1";

// A tag recorded as naming ?4 no longer names the other images of that platform it named:
// ?1 registry, ?2 repository, ?3 tag.
inline constexpr const char* kUntagMovedSummaries =
    "UPDATE image_summaries SET tag = '' WHERE registry = ?1 AND repository = ?2 AND tag = ?3 "
    "AND manifest_digest <> ?4 AND platform = (SELECT platform FROM image_summaries WHERE "
    "manifest_digest = ?4)";

// An image's name from its summary (see Store::image_name): ?1 digest.
inline constexpr const char* kImageName =
    "SELECT CASE WHEN repository = '' THEN '' WHEN tag = '' THEN registry || '/' || repository || "
    "'@' || manifest_digest ELSE registry || '/' || repository || ':' || tag END FROM "
    "image_summaries WHERE manifest_digest = ?1";

inline constexpr const char* kImageTags =
    "SELECT registry || '/' || repository || ':' || tag FROM tags WHERE manifest_digest = ?1 "
    "ORDER BY last_seen DESC LIMIT 100";

inline constexpr const char* kListSuppressions =
    "SELECT rule_id, path, env_key, reason, created_at, image, expires FROM suppressions ORDER BY "
    "id";
inline constexpr const char* kInsertSuppression =
    "INSERT INTO suppressions(rule_id, path, env_key, reason, created_at, image, expires) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

// Webhook deliveries (Store::enqueue_delivery and the rest). Reads return a delivery as
// "id, event_key, event, url, body, state, attempts, next_at, last_error, created_at,
// updated_at".
// ?1 event_key, ?2 event, ?3 url, ?4 body, ?5 now: a row only when it was added.
inline constexpr const char* kEnqueueDelivery =
    "INSERT INTO webhook_deliveries(event_key, event, url, body, state, attempts, next_at, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'pending', 0, CAST(?5 AS BIGINT), "
    "CAST(?5 AS BIGINT), CAST(?5 AS BIGINT)) ON CONFLICT (event_key, url) DO NOTHING RETURNING id";
// ?1 owner, ?2 now, ?3 hold, ?4 limit; returns deliveries. The claim's condition is in the
// outer WHERE too: a replica that waited on another's row lock sees the other's claim there
// and skips the row. A claim in force is skipped whoever holds it: the owner's own attempt is
// under way, and a second would deliver the event twice.
inline constexpr const char* kClaimDeliveries =
    "UPDATE webhook_deliveries SET claimed_by = ?1, claimed_until = CAST(?2 AS BIGINT) + "
    "CAST(?3 AS BIGINT) WHERE state = 'pending' AND next_at <= CAST(?2 AS BIGINT) AND "
    "(claimed_by = '' OR claimed_until < CAST(?2 AS BIGINT)) AND id IN "
    "(SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= CAST(?2 AS "
    "BIGINT) AND (claimed_by = '' OR claimed_until < CAST(?2 AS BIGINT)) "
    "ORDER BY next_at, id LIMIT CAST(?4 AS BIGINT)) RETURNING id, event_key, event, url, body, "
    "state, attempts, next_at, last_error, created_at, updated_at";
// ?1 id, ?2 state, ?3 attempts, ?4 next_at, ?5 last_error, ?6 now, ?7 owner.
inline constexpr const char* kFinishDelivery =
    "UPDATE webhook_deliveries SET state = ?2, attempts = CAST(?3 AS INTEGER), next_at = CAST(?4 "
    "AS BIGINT), last_error = ?5, updated_at = CAST(?6 AS BIGINT), claimed_by = '', "
    "claimed_until = 0 WHERE id = CAST(?1 AS BIGINT) AND claimed_by = ?7";
// ?1 the time before which ended deliveries go.
inline constexpr const char* kPruneDeliveries =
    "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < CAST(?1 AS BIGINT)";
// ?1 state ('' any), ?2 below this id (0: from the newest), ?3 limit; returns deliveries.
inline constexpr const char* kListDeliveries =
    "SELECT id, event_key, event, url, body, state, attempts, next_at, last_error, created_at, "
    "updated_at FROM webhook_deliveries WHERE (CAST(?1 AS TEXT) = '' OR state = ?1) AND "
    "(CAST(?2 AS BIGINT) = 0 OR id < CAST(?2 AS BIGINT)) ORDER BY id DESC LIMIT CAST(?3 AS "
    "BIGINT)";

// A finished scan's result's score and grade, when it has both.
bool result_score(const std::string& result_json, int& score, std::string& grade);

// "?1" placeholders as PostgreSQL's "$1".
std::string dollar_placeholders(std::string sql);

}  // namespace bw::queries
