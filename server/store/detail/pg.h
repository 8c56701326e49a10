// Thin RAII over libpq: a connection, parameterised statements in text form, their results.
// Private to store/. Not thread-safe: the store serialises use of each connection.
#pragma once

#include "common/error.h"

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw::pg {

// A parameter as text; nullopt is SQL NULL.
using Param = std::optional<std::string>;

class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) == 1; }
  std::string text(int row, int col) const {
    return is_null(row, col)
               ? std::string()
               : std::string(PQgetvalue(r_.get(), row, col), PQgetlength(r_.get(), row, col));
  }
  std::int64_t integer(int row, int col) const;
  // A BYTEA column (hex output format) as raw bytes.
  std::string bytes(int row, int col) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class Connection {
 public:
  // `conninfo`: a postgresql:// URL or key=value string. Passwords come from it, PGPASSWORD or
  // a password file, as libpq reads them; they are never part of an error message.
  static Result<Connection> open(const std::string& conninfo);

  // Runs one statement with $1… parameters (or, without parameters, a script of several). A broken
  // connection is reset and the statement tried once more (outside a transaction only).
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
  bool in_transaction() const { return depth_ > 0; }

  // Runs `body` in one transaction; rolled back when it fails.
  template <class F>
  Result<void> transaction(F&& body) {
    if (auto r = exec("BEGIN"); !r) return r.error();
    ++depth_;
    Result<void> result = body();
    --depth_;
    if (!result) {
      (void)exec("ROLLBACK");
      return result;
    }
    if (auto r = exec("COMMIT"); !r) return r.error();
    return {};
  }

 private:
  explicit Connection(PGconn* c) : c_(c, &PQfinish) {}
  std::unique_ptr<PGconn, void (*)(PGconn*)> c_;
  int depth_ = 0;
};

// `data` as a BYTEA literal in hex form ("\x0a1b…").
std::string bytea_hex(std::string_view data);

// `items` as a text[] literal ('{"a","b"}'), for `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& items);

// The URL without its password, for logs and errors.
std::string redact(const std::string& conninfo);

}  // namespace bw::pg
