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
// the text; strings are parameters.
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
    "UPDATE image_summaries SET ruleset_version = '', score = -1, grade = '', base = '', eol = 0";

// A finished scan's result's score and grade, when it has both.
bool result_score(const std::string& result_json, int& score, std::string& grade);

// "?1" placeholders as PostgreSQL's "$1".
std::string dollar_placeholders(std::string sql);

}  // namespace bw::queries
