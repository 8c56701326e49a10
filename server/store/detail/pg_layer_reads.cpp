#include "store/detail/pg_layer_reads.h"

#include "store/detail/pg.h"

#include <algorithm>

namespace bw::pg {

// `digest = ANY($n)` lets the planner read a table of a few hundred layers whole, which costs it
// less than a probe per digest but reads every row at each scan's first look; the lateral
// subquery (kept apart by OFFSET 0) is one index probe per digest. bulwark_elements, not unnest,
// so that the session keeps one plan for every array (schema/postgres/017_kept_plans.sql).
std::string layers_named(int n) {
  return "bulwark_elements($" + std::to_string(n) +
         "::text[]) AS want(d) CROSS JOIN LATERAL (SELECT *, xmin::text AS row_version FROM "
         "layers WHERE digest = want.d OFFSET 0) layers";
}

const std::string& lookup_statement() {
  static const std::string sql =
      "SELECT 0 AS part, manifest_digest AS c1, score::bigint AS c2, grade AS c3, image_ref AS "
      "c4, ruleset_version AS c5, report AS c6 FROM reports WHERE manifest_digest = $1 AND "
      "ruleset_version = $2 UNION ALL SELECT 1, digest, analyzer_version::bigint, diff_id, "
      "status, analyzer_versions, row_version FROM " +
      layers_named(3);
  return sql;
}

std::string distinct_array(const std::vector<std::string>& items) {
  std::vector<std::string> once = items;
  std::sort(once.begin(), once.end());
  once.erase(std::unique(once.begin(), once.end()), once.end());
  return text_array(once);
}

}  // namespace bw::pg
