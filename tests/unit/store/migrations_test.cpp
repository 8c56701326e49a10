// The store's contract (tests/support/store_checks.h) on SQLite; the integration tests run the
// same checks on PostgreSQL.
#include "common/embedded.h"
#include "store/store.h"

#include "process.h"
#include "store_checks.h"

#include <doctest/doctest.h>

#include <filesystem>

using namespace bw;

namespace {
std::unique_ptr<Store> sqlite_at(const std::string& path) {
  auto s = open_sqlite_store({path});
  REQUIRE(s);
  return std::move(*s);
}
}  // namespace

TEST_CASE("sqlite: migrations apply once, in order, and a second open applies nothing") {
  test::TempDir dir;
  test::check_migrations([&] { return sqlite_at(dir.path() + "/sub/bulwark.db"); });
}

TEST_CASE("sqlite: layer facts round-trip by digest and replace on re-analysis") {
  test::TempDir dir;
  test::check_layer_round_trip(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE(
    "sqlite: a layer read again unchanged comes from memory; one rewritten elsewhere is read") {
  test::TempDir dir;
  test::check_layer_cache(*sqlite_at(dir.path() + "/b.db"), *sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: images need their layers stored first; the foreign key holds") {
  test::TempDir dir;
  test::check_image_needs_its_layers(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: scans list newest first with a cursor") {
  test::TempDir dir;
  test::check_scan_cursor(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: the scan queue is claimed oldest first, each scan once; cancels hold") {
  test::TempDir dir;
  test::check_scan_queue(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: a scan's end with its findings is one transaction") {
  test::TempDir dir;
  test::check_scan_end_with_findings(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: images, tags, reports, stats, trends' rows, suppressions, references") {
  test::TempDir dir;
  test::check_queries(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: pending lookups, retention, touches, generations; dashboards read indexes") {
  test::TempDir dir;
  auto store = sqlite_at(dir.path() + "/b.db");
  // The generation, "<nonce>-<count>", moves on by one per write transaction.
  test::check_fleet_reads(*store, [&] {
    std::string g = store->generation().value();
    return static_cast<std::uint64_t>(std::stoull(g.substr(g.rfind('-') + 1)));
  });
}

TEST_CASE("sqlite: the fleet's trend is kept per day as results are written") {
  test::TempDir dir;
  test::check_fleet_trend(*sqlite_at(dir.path() + "/b.db"));
}

TEST_CASE("sqlite: list rows carry severity counts and the top finding; moved tags; search") {
  test::TempDir dir;
  test::check_list_rows(*sqlite_at(dir.path() + "/l.db"));
}

TEST_CASE("sqlite: webhook deliveries are claimed once, resumed after a lapse, pruned") {
  test::TempDir dir;
  test::check_deliveries(*sqlite_at(dir.path() + "/w.db"));
}

TEST_CASE("sqlite: 013 fills list rows from stored reports and unnames moved tags") {
  test::TempDir dir;
  const std::string path = dir.path() + "/m.db";
  test::check_list_rows_backfill(
      *sqlite_at(path), [&](const std::string& sql) { test::sqlite_exec(path, sql); },
      schema_files::get("013_list_rows.sql"));
}

TEST_CASE("sqlite: 015 makes images, reports and layers rowid tables, every row and count kept") {
  test::TempDir dir;
  const std::string path = dir.path() + "/r.db";
  auto query = [&](const std::string& sql) {
    std::string out;
    REQUIRE_MESSAGE(test::run_command({"sqlite3", path, sql}, out) == 0, out);
    return out;
  };
  const std::string counts =
      "SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM reports), (SELECT COUNT(*) "
      "FROM layers), (SELECT COUNT(*) FROM image_layers), (SELECT COUNT(*) FROM tags), (SELECT "
      "group_concat(name || '=' || value) FROM fleet_counts), (SELECT sum(length(config)) FROM "
      "images), (SELECT sum(length(facts)) FROM layers)";
  std::string before;
  {
    auto store = sqlite_at(path);
    test::check_list_rows(*store);  // images with layers, tags, reports and summaries
    before = query(counts);
  }
  CHECK(query("SELECT sql FROM sqlite_master WHERE name = 'images'").find("WITHOUT ROWID") ==
        std::string::npos);
  // Run it again over a store that holds rows: as it runs over a store of an older release.
  query("DELETE FROM schema_migrations WHERE version = 15");
  {
    auto store = sqlite_at(path);
    CHECK(store->integrity_check().value() == "ok");
  }
  CHECK(query(counts) == before);
  CHECK(query("PRAGMA foreign_key_check").empty());
  for (const char* table : {"images", "reports", "layers"})
    CHECK_MESSAGE(query(std::string("SELECT sql FROM sqlite_master WHERE name = '") + table + "'")
                          .find("WITHOUT ROWID") == std::string::npos,
                  table);
  // The triggers and indexes the old layers table had are back.
  CHECK(query("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'layers' AND type IN "
              "('trigger', 'index') AND name LIKE 'layers_%'") == "5\n");
  // And foreign keys are enforced again on the store's connection: an image naming a layer
  // that is not stored is refused.
  auto store = sqlite_at(path);
  ImageRecord orphan;
  orphan.manifest_digest = "sha256:" + std::string(64, '9');
  orphan.media_type = "application/vnd.oci.image.manifest.v1+json";
  orphan.config_digest = orphan.manifest_digest;
  orphan.os = "linux";
  orphan.architecture = "amd64";
  orphan.config = "{}";
  orphan.manifest = "{}";
  orphan.layers = {
      {"sha256:" + std::string(64, '8'), "application/vnd.oci.image.layer.v1.tar", 1, ""}};
  CHECK_FALSE(store->put_image(orphan, std::nullopt));
  CHECK_FALSE(*store->get_image(orphan.manifest_digest));
}

TEST_CASE("a store's description masks every password its URL or keywords carry") {
  CHECK(store_description("postgresql://u:hunter2@db.example:5432/b?sslmode=require", "") ==
        "postgresql://u:***@db.example:5432/b?sslmode=require");
  // libpq also takes them as URI parameters, the local socket's form among others.
  CHECK(store_description("postgresql://u@/b?host=/run/pg&password=hunter2&port=5433", "") ==
        "postgresql://u@/b?host=/run/pg&password=***&port=5433");
  CHECK(store_description("postgres://u:a@h/b?sslpassword=hunter2", "") ==
        "postgres://u:***@h/b?sslpassword=***");
  CHECK(store_description("postgresql://u@h/b?", "") == "postgresql://u@h/b?");
  // A keyword string, spaced or quoted as libpq reads it.
  CHECK(store_description("host=h password=hunter2 dbname=b", "") ==
        "host=h password=*** dbname=b");
  CHECK(store_description("host=h password = 'hunter 2\\' x' dbname=b", "") ==
        "host=h password = *** dbname=b");
  CHECK(store_description("dbname=b\tsslpassword='k' password=", "") ==
        "dbname=b\tsslpassword=*** password=***");
  CHECK(store_description("host=h dbname=password", "") == "host=h dbname=password");
}

TEST_CASE("open_store picks the backend by URL, SQLite in the data directory by default") {
  test::TempDir dir;
  auto def = open_store("", dir.path() + "/data");
  REQUIRE(def);
  CHECK(std::filesystem::exists(dir.path() + "/data/bulwark.db"));
  auto explicit_path = open_store("sqlite:" + dir.path() + "/other.db", "");
  REQUIRE(explicit_path);
  CHECK(std::filesystem::exists(dir.path() + "/other.db"));
  auto bad = open_store("mysql://x", "");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("sqlite:PATH or postgresql://") != std::string::npos);
  CHECK(store_description("postgresql://u:hunter2@db.example/b", "") ==
        "postgresql://u:***@db.example/b");
  CHECK(store_description("", "/var/lib/bulwark") == "sqlite:/var/lib/bulwark/bulwark.db");
  // An unreachable server is a clear error naming it, without the password.
  test::RefusingPort closed;
  auto down = open_store("postgresql://u:hunter2@" + closed.host() + "/none?connect_timeout=2", "");
  REQUIRE_FALSE(down);
  CHECK(down.error().message.find("cannot connect to postgresql://u:***@" + closed.host()) !=
        std::string::npos);
  CHECK(down.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("sqlite: with its tables gone, every call is an error, none a crash") {
  test::TempDir dir;
  const std::string path = dir.path() + "/b.db";
  auto store = sqlite_at(path);
  test::check_errors_surface(*store, [&] {
    std::string out;
    std::string drop;
    for (auto table :
         {"image_layers", "tags", "reports", "image_summaries", "daily_results", "fleet_days",
          "fleet_day_grades", "fleet_day_scores", "latest_results", "fleet_counts", "images",
          "layers", "scans", "suppressions", "reference_images", "schema_migrations"})
      drop += std::string("DROP TABLE IF EXISTS ") + table + ";";
    REQUIRE_MESSAGE(
        test::run_command({"sqlite3", path, "PRAGMA foreign_keys=OFF;" + drop}, out) == 0, out);
  });
}

// The tables the store writes, for the checks that break them one at a time.
const std::vector<std::string> kTables = {
    "layers",           "images",          "image_layers",   "tags",
    "reports",          "scans",           "suppressions",   "reference_images",
    "image_summaries",  "daily_results",   "latest_results", "fleet_days",
    "fleet_day_grades", "fleet_day_scores"};

TEST_CASE("sqlite: a table failing part-way fails the call; earlier statements are rolled back") {
  test::TempDir dir;
  const std::string path = dir.path() + "/b.db";
  auto store = sqlite_at(path);
  auto sql = [&](const std::string& text) { test::sqlite_exec(path, text); };
  // Reads of the view fail on their first row (abs() of the smallest integer overflows); writes
  // reach the INSTEAD OF triggers, which abort.
  test::check_failures_roll_back(
      *store, kTables,
      [&](const std::string& t) {
        std::string s = test::sqlite_failing_reads(t);
        for (const char* op : {"INSERT", "UPDATE", "DELETE"})
          s += std::string("CREATE TRIGGER ") + t + "_" + op + " INSTEAD OF " + op + " ON " + t +
               " BEGIN SELECT RAISE(ABORT, 'injected'); END;";
        sql(s);
      },
      [&](const std::string& t) {
        sql("DROP VIEW " + t + "; ALTER TABLE " + t + "_real RENAME TO " + t + ";");
      });
  auto ok = store->integrity_check();
  REQUIRE(ok);
  CHECK(*ok == "ok");

  // A table gone (renamed away) while the others work: statements after the first of a write
  // fail to prepare, and what ran before them is rolled back.
  const std::string path2 = dir.path() + "/c.db";
  auto store2 = sqlite_at(path2);
  test::check_failures_roll_back(
      *store2, kTables,
      [&](const std::string& t) {
        test::sqlite_exec(path2, "ALTER TABLE " + t + " RENAME TO " + t + "_gone;");
      },
      [&](const std::string& t) {
        test::sqlite_exec(path2, "ALTER TABLE " + t + "_gone RENAME TO " + t + ";");
      });
}

TEST_CASE("sqlite: writes refused by triggers while reads work: calls fail, writes roll back") {
  test::TempDir dir;
  const std::string path = dir.path() + "/b.db";
  auto store = sqlite_at(path);
  auto sql = [&](const std::string& text) { test::sqlite_exec(path, text); };
  test::check_failures_roll_back(
      *store, kTables,
      [&](const std::string& t) {
        std::string s;
        for (const char* op : {"INSERT", "UPDATE", "DELETE"})
          s += std::string("CREATE TRIGGER refuse_") + op + " BEFORE " + op + " ON " + t +
               " BEGIN SELECT RAISE(ABORT, 'injected'); END;";
        sql(s);
      },
      [&](const std::string&) {
        sql("DROP TRIGGER refuse_INSERT; DROP TRIGGER refuse_UPDATE; DROP TRIGGER refuse_DELETE;");
      });
}

TEST_CASE("sqlite: a table missing from the start fails the statements that need it, mid-write") {
  // Statements are prepared on first use: with the table gone before any call, the statements
  // after a write's first one fail to prepare (not to run), and the call still fails cleanly.
  test::TempDir dir;
  for (const std::string& t : kTables) {
    CAPTURE(t);
    const std::string path = dir.path() + "/" + t + ".db";
    auto store = sqlite_at(path);
    std::string out;
    REQUIRE(test::run_command({"sqlite3", path, "ALTER TABLE " + t + " RENAME TO gone;"}, out) ==
            0);
    LayerRecord one, two;
    one.digest = "sha256:" + std::string(64, '1');
    two.digest = "sha256:" + std::string(64, '2');
    (void)store->put_layer(one);
    (void)store->put_layer(two);
    ScanRecord queued;
    queued.id = "scan_q";
    queued.image = "reg.example/app:1";
    queued.platform = "linux/amd64";
    queued.created_at = "2026-01-01T00:00:00Z";
    (void)store->put_scan(queued);
    CHECK(test::call_everything(*store, "01", "sha256:" + std::string(64, 'e'),
                                "sha256:" + std::string(64, 'f'), "scan_q") > 0);
  }
}

TEST_CASE("sqlite: paths that cannot hold a database, and a file that is not one") {
  test::TempDir dir;
  // A directory where the file should be.
  std::filesystem::create_directories(dir.path() + "/is-a-dir");
  auto on_dir = open_sqlite_store({dir.path() + "/is-a-dir"});
  REQUIRE_FALSE(on_dir);
  // Garbage where the database should be: the first statement says so.
  test::write_file(dir.path() + "/junk.db", std::string(8192, 'j'));
  auto junk = open_sqlite_store({dir.path() + "/junk.db"});
  REQUIRE_FALSE(junk);
  CHECK(junk.error().message.find("not a database") != std::string::npos);
  // A bare file name opens in the working directory.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto bare = open_sqlite_store({"bare.db"});
  std::filesystem::current_path(cwd);
  REQUIRE(bare);
  CHECK(std::filesystem::exists(dir.path() + "/bare.db"));
}

TEST_CASE("layer metadata from stored text of any shape") {
  auto meta = layer_meta_from(3, "sha256:d", "limit_exceeded", R"({"elf": 2, "odd": "x"})");
  CHECK(meta.status == LayerStatus::limit_exceeded);
  CHECK(meta.analyzer_versions == std::map<std::string, int>{{"elf", 2}});
  auto junk = layer_meta_from(3, "sha256:d", "no-such-status", "[1, 2]");
  CHECK(junk.status == LayerStatus::complete);
  CHECK(junk.analyzer_versions.empty());
}
