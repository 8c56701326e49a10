// Thin RAII over the SQLite C API: a connection and prepared statements. Private to store/.
#pragma once

#include "common/error.h"

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bw::sqlite {

// A borrowed prepared statement, reset when this handle goes away: a statement left mid-way
// (one row read of several) would hold its read transaction open, pinning the WAL and keeping
// the connection in its error state after a disk-full or I/O fault.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement() {
    if (s_) sqlite3_reset(s_);
  }
  Statement(Statement&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  // Binds by 1-based index. Strings are copied by SQLite.
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  void bind_blob(int i, const void* data, std::size_t n) {
    sqlite3_bind_blob64(s_, i, data, n, SQLITE_TRANSIENT);
  }
  // SQLITE_ROW or SQLITE_DONE as values; anything else is an error.
  Result<bool> step();
  std::string text(int col) const;
  std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view blob(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string_view();
  }

 private:
  sqlite3_stmt* s_;
};

class Database {
 public:
  static Result<Database> open(const std::string& path, int busy_timeout_ms);
  Database(Database&&) = default;
  Database& operator=(Database&&) = default;

  Result<void> exec(std::string_view sql);
  // A cached prepared statement, reset and with bindings cleared. Valid until the next
  // prepare() of the same SQL text.
  Result<Statement> prepare(const std::string& sql);
  std::string last_error() const { return sqlite3_errmsg(db_.get()); }
  sqlite3* handle() const { return db_.get(); }

 private:
  struct CloseDb {
    void operator()(sqlite3* d) const { sqlite3_close_v2(d); }
  };
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Database() = default;
  std::unique_ptr<sqlite3, CloseDb> db_;
  std::map<std::string, std::unique_ptr<sqlite3_stmt, Finalize>> cache_;
};

// Steps `st` to its end, calling `row(st)` for each row.
template <class F>
Result<void> for_each_row(Statement& st, F&& row) {
  while (true) {
    auto r = st.step();
    if (!r) return r.error();
    if (!*r) return {};
    row(st);
  }
}

// The Error for a failed SQLite call on `db`: a full disk is insufficient_storage (the caller
// may try again once space returns), anything else internal.
Error db_error(sqlite3* db, std::string_view what);

// Runs `body` inside BEGIN IMMEDIATE … COMMIT, rolling back if it fails.
template <class F>
Result<void> transaction(Database& db, F&& body) {
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r;
  Result<void> r = body();
  if (!r) {
    (void)db.exec("ROLLBACK");
    return r;
  }
  if (auto c = db.exec("COMMIT"); !c) {
    (void)db.exec("ROLLBACK");
    return c;
  }
  return {};
}

}  // namespace bw::sqlite
