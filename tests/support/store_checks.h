// The store's contract as checks, run against every backend: the unit tests on SQLite, the
// integration tests on a real PostgreSQL (tests/integration/store_backends_test.cpp).
#pragma once

#include "store/store.h"

#include <functional>

namespace bw::test {

using StoreFactory = std::function<std::unique_ptr<Store>()>;

// SQL run on a store's database from outside it, as another process or an operator would
// (sqlite3, psql); REQUIREs that it succeeds.
void sqlite_exec(const std::string& path, const std::string& sql);
void psql_exec(const std::string& url, const std::string& sql);
// SQLite SQL that makes every read of `table` that reaches a row fail (abs() of the smallest
// integer overflows): the table renamed to TABLE_real behind a view of it.
std::string sqlite_failing_reads(const std::string& table);

// A scan of `image` on linux/amd64 as submitted: queued since `created_at`.
ScanRecord queued_scan(std::string id, std::string image, std::string created_at);

// Opening twice applies migrations once; versions ascend from 1.
void check_migrations(const StoreFactory& open);
void check_layer_round_trip(Store& store);
// A layer read again unchanged is copied from memory (its facts not sent); one rewritten by
// `elsewhere` (another process or replica on the same database) is read again.
void check_layer_cache(Store& here, Store& elsewhere);
void check_image_needs_its_layers(Store& store);
// Finished scans never change again.
void check_scan_cursor(Store& store);
// The shared queue: claims oldest first, leased, each once; cancelling queued and running scans.
void check_scan_queue(Store& store);
// A scan's end with its findings (finish_image_scan): the image, its tag, report and reference
// and the scan's end together, or none of them; report_sources reads layers in order.
void check_scan_end_with_findings(Store& store);
// A scan's end whose claim of the next scan fails (`refuse_leases(true)` makes lease writes
// fail; false lets them through again): nothing of the end is written, the next scan stays
// queued; once claims work, the same end is written whole and claims it.
void check_end_whose_claim_fails(Store& store, const std::function<void(bool)>& refuse_leases);
// Images, tags, reports, filters and sorts, repositories, stats (bases, EOL), trends' rows,
// suppressions (replacing them drops reports), reference images.
void check_queries(Store& store);
// What fleets read at scale: the pending lookup, retention of scan history, a known image seen
// again (touch), the generation, and every dashboard statement planned on an index (no full
// scan of scans, images, summaries, reports or daily results). `writes`, when set, counts the
// write transactions the store's database has committed so far: a batch of tag checks must be
// one of them.
void check_fleet_reads(Store& store, const std::function<std::uint64_t()>& writes = {});
// The fleet's trend rows kept on write: each day counts every reference at its latest result,
// a day is made from the one before it, a late result reaches the days after it, an older one
// changes nothing, and a read costs the days asked for (led by the day the window opens with).
void check_fleet_trend(Store& store);
// What an images list row shows: severity counts and the top finding kept from the report,
// the tag dropped from an image once that tag names another image of its platform, search by
// part of the name (LIKE's characters taken literally), and scoped, expiring suppressions
// stored whole.
void check_list_rows(Store& store);
// Webhook deliveries: one per event and URL, due ones claimed oldest first, another owner's
// claim in force skipped and a lapsed one taken over, a late outcome from the old owner
// ignored, ended rows pruned.
void check_deliveries(Store& store);
// The migration that added those figures (its text `migration`, from its first UPDATE of
// image_summaries to its CREATE INDEX) run through `exec` over rows as an older database holds
// them fills the figures as the report builder does and unnames moved tags.
void check_list_rows_backfill(Store& store, const std::function<void(const std::string&)>& exec,
                              std::string_view migration);
// After `break_store` takes the store's tables away (as a damaged or foreign database would),
// every call returns an error rather than throwing or crashing.
void check_errors_surface(Store& store, const std::function<void()>& break_store);
// One table at a time, `break_table(T)` makes reads of T fail part-way through its rows and
// writes to it fail as they run (after the statement was prepared); `repair_table(T)` undoes
// it. With each table broken some calls fail and none throws; once repaired, what was stored
// before is intact and every multi-statement write either happened whole or not at all.
// Calls every method once (writes under the given names, reads of what the checks store) and
// counts the calls that failed.
int call_everything(Store& store, const std::string& tag, const std::string& fresh_image,
                    const std::string& fresh_layer, const std::string& scan_id);
void check_failures_roll_back(Store& store, const std::vector<std::string>& tables,
                              const std::function<void(const std::string&)>& break_table,
                              const std::function<void(const std::string&)>& repair_table);

}  // namespace bw::test
