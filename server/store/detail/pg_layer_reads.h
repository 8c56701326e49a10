// The PostgreSQL store's reads of `layers` by a list of digests, apart from the store so that
// tests run the statements the store runs. Private to store/.
#pragma once

#include <string>
#include <vector>

namespace bw::pg {

// A FROM item: the layers whose digests the text[] parameter $n names, each with its row version
// (`row_version`), each found through the primary key. The array names each digest once
// (distinct_array).
std::string layers_named(int n);

// A scan's first look, one statement: the report of image $1 under ruleset $2 (part 0), then the
// meta and row version of each layer the array $3 names (part 1).
const std::string& lookup_statement();

// `items` as a text[] literal, each once.
std::string distinct_array(const std::vector<std::string>& items);

}  // namespace bw::pg
