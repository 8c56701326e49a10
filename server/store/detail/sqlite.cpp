#include "store/detail/sqlite.h"

namespace bw::sqlite {

Error db_error(sqlite3* db, std::string_view what) {
  int rc = sqlite3_extended_errcode(db);
  if ((rc & 0xff) == SQLITE_FULL || rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC ||
      rc == SQLITE_IOERR_TRUNCATE || rc == SQLITE_IOERR_SHMSIZE)
    return make_error(
        Errc::insufficient_storage,
        std::string(what) + ": the store's disk is full or failing (" + sqlite3_errmsg(db) + ")");
  return make_error(Errc::internal, std::string(what) + ": " + sqlite3_errmsg(db));
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(sqlite3_db_handle(s_), "sqlite step");
}

std::string Statement::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}

Result<Database> Database::open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database d;
  d.db_.reset(raw);
  if (rc != SQLITE_OK)
    return make_error(Errc::internal, "cannot open " + path + ": " +
                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  return d;
}

Result<void> Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return db_error(db_.get(), "sqlite");
  }
  return {};
}

Result<Statement> Database::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      return db_error(db_.get(), "sqlite prepare");
    it = cache_.emplace(sql, std::unique_ptr<sqlite3_stmt, Finalize>(s)).first;
  }
  sqlite3_reset(it->second.get());
  sqlite3_clear_bindings(it->second.get());
  return Statement(it->second.get());
}

}  // namespace bw::sqlite
