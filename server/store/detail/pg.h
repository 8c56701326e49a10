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
#include <unordered_map>
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
  const PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// A statement and its parameters, as sent in a pipeline.
struct Statement {
  std::string text;
  std::vector<Param> params;
};

class Connection {
 public:
  // `conninfo`: a postgresql:// URL or key=value string. Passwords come from it, PGPASSWORD or
  // a password file, as libpq reads them; they are never part of an error message.
  static Result<Connection> open(const std::string& conninfo);

  // Runs one statement with $1… parameters (or, without parameters, a script of several). A broken
  // connection is reset and the statement tried once more (outside a transaction only).
  // A statement with parameters is prepared on the session the first time it runs, and runs
  // from there on without being parsed or, once the server keeps a generic plan, planned again:
  // the store sends the same few dozen statements for every scan.
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
  // One statement whose rows nobody reads (a write). Inside a transaction it is sent with the
  // next statement whose result is waited for (at the latest, COMMIT), in one pipeline: one
  // round trip for a run of writes instead of one each. Its error fails that statement, and
  // so the transaction. Outside a transaction it runs at once, as exec.
  Result<void> defer(std::string_view sql, std::vector<Param> params);
  // Statements whose results are all read, sent in one pipeline (after the deferred writes, if
  // any): one round trip for reads that do not depend on each other. Each runs with its own
  // snapshot, as one sent after the other would. Their rows in order, or the first error.
  Result<std::vector<Rows>> exec_all(std::vector<Statement> batch);
  // The last step of transaction()'s body: the deferred writes, `batch` and COMMIT in one
  // pipeline, so that a transaction whose last statements' results are read still commits in
  // one round trip with them. Their rows once committed, or the first error (the transaction
  // is then rolled back). Outside a transaction, exec_all.
  Result<std::vector<Rows>> commit_with(std::vector<Statement> batch);
  bool in_transaction() const { return depth_ > 0; }
  // The session's socket: readable when the server sends what was not asked for (a
  // notification on a channel the session LISTENs to).
  int socket() const { return PQsocket(c_.get()); }
  // The payloads of the notifications received so far, read without blocking; an error once
  // the connection is lost.
  Result<std::vector<std::string>> notifications();
  // `p` as an SQL literal, quoted for this connection ('it''s'), or NULL.
  std::string literal(const Param& p);

  // Runs `body` in one transaction; rolled back when it fails.
  template <class F>
  Result<void> transaction(F&& body) {
    // BEGIN goes with the transaction's first statement.
    if (depth_ == 0)
      deferred_.push_back({"BEGIN", {}});
    else if (auto r = exec("BEGIN"); !r)
      return r.error();
    ++depth_;
    Result<void> result;
    try {
      result = body();
    } catch (...) {
      // Nothing of it may go with the next transaction's statements.
      --depth_;
      deferred_.clear();
      committed_ = false;
      (void)exec("ROLLBACK");
      throw;
    }
    --depth_;
    if (committed_) {
      committed_ = false;
      return result;
    }
    if (result)
      if (auto r = exec("COMMIT"); !r) result = r.error();
    if (!result) {
      // A write that failed in COMMIT's pipeline leaves the transaction open, aborted.
      deferred_.clear();
      (void)exec("ROLLBACK");
    }
    return result;
  }

 private:
  // Statements kept prepared per session, at most: texts built from a number (one lookup per
  // layer of an image) would otherwise grow the server's memory without bound.
  static constexpr std::size_t kMaxPrepared = 256;

  explicit Connection(PGconn* c) : c_(c, &PQfinish) {}

  // One try of `text`: prepared (and run) when it has parameters and there is room.
  PGresult* run(const std::string& text, const std::vector<const char*>& values);
  // The name `text` (with `n` parameters) is prepared under on this session, prepared now if
  // there is room; nullptr to run it unprepared. Sets `refused` when the server refuses it.
  const std::string* prepared_name(const std::string& text, int n, PGresult*& refused);
  // `batch` in one pipeline; each statement's result, or the first error.
  Result<std::vector<Rows>> pipeline(const std::vector<Statement>& batch);
  // A failed statement's SQLSTATE seen: prepared statements forgotten when the session lost
  // them. Whether running it again may succeed.
  bool forget_prepared(const PGresult* r);

  std::unique_ptr<PGconn, void (*)(PGconn*)> c_;
  int depth_ = 0;
  std::unordered_map<std::string, std::string> prepared_;  // text -> name, on this session
  bool prepare_ = true;  // false once the session lost statements it prepared
  // Statement names start with a prefix of this connection's own: behind a pooler, a session
  // may hold another client's statements, and a name they share must never run their text.
  std::string names_;
  std::uint64_t named_ = 0;          // names handed out
  std::vector<Statement> deferred_;  // sent with the next statement that is waited for
  bool committed_ = false;           // commit_with ended the transaction
};

// `data` as a BYTEA literal in hex form ("\x0a1b…").
std::string bytea_hex(std::string_view data);

// `items` as a text[] literal ('{"a","b"}'), for `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& items);

// The URL without its password, for logs and errors.
std::string redact(const std::string& conninfo);

}  // namespace bw::pg
