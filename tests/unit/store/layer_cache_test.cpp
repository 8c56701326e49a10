#include "store/detail/layer_cache.h"

#include <doctest/doctest.h>

namespace bw {
namespace {

LayerRecord record(std::uint64_t entries) {
  LayerRecord r;
  r.facts.entry_count = entries;
  return r;
}

// A budget of `n` records of `stored` bytes each.
std::size_t room_for(std::size_t n, std::size_t stored) {
  return n * stored * detail::kParsedPerStoredByte;
}

}  // namespace

TEST_CASE("layer cache: the least recently used record goes first; a read counts as a use") {
  detail::LayerCache cache(room_for(2, 100));
  cache.put("a", "1", record(1), 100);
  cache.put("b", "1", record(2), 100);
  REQUIRE(cache.find("a"));  // a is now the most recent
  cache.put("c", "1", record(3), 100);
  CHECK_FALSE(cache.find("b"));
  REQUIRE(cache.find("a"));
  CHECK(cache.find("a")->record->facts.entry_count == 1);
  REQUIRE(cache.find("c"));
  CHECK(cache.find("c")->version == "1");
}

TEST_CASE("layer cache: a record is weighed at a multiple of its stored size") {
  // Two records of 100 stored bytes fill a budget of 2 x 100 x the multiple: a third pushes one
  // out, and one heavier than the budget is not kept and pushes nothing out.
  detail::LayerCache cache(room_for(2, 100));
  cache.put("a", "1", record(1), 100);
  cache.put("b", "1", record(2), 100);
  CHECK(cache.find("a"));
  CHECK(cache.find("b"));
  // Not kept, it is still handed back for the reader that parsed it.
  auto huge = cache.put("huge", "1", record(9), 201);
  REQUIRE(huge);
  CHECK(huge->facts.entry_count == 9);
  CHECK_FALSE(cache.find("huge"));
  CHECK(cache.find("a"));
  CHECK(cache.find("b"));
  cache.put("c", "1", record(3), 150);  // a and b together leave no room: both go
  CHECK(cache.find("c"));
  CHECK_FALSE(cache.find("a"));
  CHECK_FALSE(cache.find("b"));
}

TEST_CASE("layer cache: a record kept again replaces the one kept; a record held outlives it") {
  detail::LayerCache cache(room_for(1, 100));
  auto kept = cache.put("a", "1", record(1), 100);
  auto held = cache.find("a");
  REQUIRE(held);
  CHECK(held->record == kept);  // the record kept is the one handed back, not a copy
  cache.put("a", "2", record(2), 100);
  REQUIRE(cache.find("a"));
  CHECK(cache.find("a")->version == "2");
  CHECK(cache.find("a")->record->facts.entry_count == 2);
  // What a reader took before stays valid whatever the cache drops.
  cache.put("b", "1", record(3), 100);
  CHECK_FALSE(cache.find("a"));
  CHECK(held->record->facts.entry_count == 1);
  detail::LayerCache none(0);
  none.put("a", "1", record(1), 1);
  CHECK_FALSE(none.find("a"));
}

}  // namespace bw
