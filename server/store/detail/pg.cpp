#include "store/detail/pg.h"

#include "common/digest.h"

#include <algorithm>
#include <charconv>

namespace bw::pg {
namespace {

Error pg_error(std::string_view what, const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return make_error(Errc::unavailable, "postgresql: " + std::string(what) + ": " + m);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::int64_t Rows::integer(int row, int col) const {
  std::int64_t v = 0;
  const char* p = PQgetvalue(r_.get(), row, col);
  std::from_chars(p, p + PQgetlength(r_.get(), row, col), v);
  return v;
}

std::string Rows::bytes(int row, int col) const {
  std::string hex = text(row, col);
  std::string out;
  if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') return out;
  out.reserve((hex.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1])));
  return out;
}

std::string bytea_hex(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (auto& item : items) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (char c : item) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

namespace {

bool is_password_key(std::string_view key) {
  return key == "password" || key == "sslpassword";
}

// What libpq reads as spaces between a keyword string's items (isspace), and a keyword's end.
constexpr std::string_view kSpaces = " \t\n\r\f\v";
constexpr std::string_view kKeyEnd = " \t\n\r\f\v=";

bool is_space(char c) {
  return kSpaces.find(c) != std::string_view::npos;
}

// A keyword string's value at `at` ('quoted', with backslash escapes, or up to a space): its end.
std::size_t keyword_value_end(const std::string& s, std::size_t at) {
  if (at >= s.size() || s[at] != '\'') return std::min(s.find_first_of(kSpaces, at), s.size());
  for (std::size_t i = at + 1; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '\'')
      return i + 1;
  }
  return s.size();
}

// "host=h password = 'a b' dbname=d" -> "host=h password = *** dbname=d"
std::string redact_keywords(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_space(s[i])) {
      out.push_back(s[i++]);
      continue;
    }
    const std::size_t key_end = std::min(s.find_first_of(kKeyEnd, i), s.size());
    std::size_t eq = key_end;
    while (eq < s.size() && is_space(s[eq])) ++eq;
    if (eq >= s.size() || s[eq] != '=') {  // not a keyword: kept as written
      out.append(s, i, key_end - i);
      i = key_end;
      continue;
    }
    std::size_t value = eq + 1;
    while (value < s.size() && is_space(s[value])) ++value;
    const std::size_t value_end = keyword_value_end(s, value);
    out.append(s, i, value - i);
    if (is_password_key(std::string_view(s).substr(i, key_end - i)))
      out += "***";
    else
      out.append(s, value, value_end - value);
    i = value_end;
  }
  return out;
}

}  // namespace

std::string redact(const std::string& conninfo) {
  // Every place libpq takes a password from: a URI's user:password@ and its password= and
  // sslpassword= parameters, or a keyword string's password and sslpassword.
  auto scheme = conninfo.find("://");
  if (scheme == std::string::npos) return redact_keywords(conninfo);
  const std::size_t query = std::min(conninfo.find('?', scheme), conninfo.size());
  std::string out = conninfo.substr(0, query);
  auto at = out.find('@', scheme);
  auto colon = out.find(':', scheme + 3);
  if (at != std::string::npos && colon != std::string::npos && colon < at)
    out = out.substr(0, colon + 1) + "***" + out.substr(at);
  if (query == conninfo.size()) return out;
  out.push_back('?');
  for (std::size_t i = query + 1;;) {
    const std::size_t amp = std::min(conninfo.find('&', i), conninfo.size());
    const std::string_view param = std::string_view(conninfo).substr(i, amp - i);
    const std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && is_password_key(param.substr(0, eq)))
      out.append(param.substr(0, eq + 1)).append("***");
    else
      out.append(param);
    if (amp == conninfo.size()) break;
    out.push_back('&');
    i = amp + 1;
  }
  return out;
}

Result<Connection> Connection::open(const std::string& conninfo) {
  // The store's statements are reads and writes of a few rows. One priced above jit_above_cost
  // (a large table's estimate, or a whole-table read priced out) would be compiled by LLVM at
  // each run, tens of milliseconds for a statement that runs in one (schema/postgres/016). As a
  // connection option it holds for the sessions PQreset opens too; options in the connection
  // string, which is expanded after it, take its place.
  const char* keys[] = {"options", "dbname", nullptr};
  const char* values[] = {"-c jit=off", conninfo.c_str(), nullptr};
  Connection c(PQconnectdbParams(keys, values, 1));
  if (!c.c_) return make_error(Errc::unavailable, "postgresql: out of memory");
  if (PQstatus(c.c_.get()) != CONNECTION_OK)
    return pg_error("cannot connect to " + redact(conninfo), PQerrorMessage(c.c_.get()));
  c.names_ = "bw_" + random_hex(8) + "_";
  // Notices (a migration's "already exists", say) would go to stderr unformatted.
  PQsetNoticeProcessor(
      c.c_.get(), [](void*, const char*) {}, nullptr);
  return c;
}

Result<std::vector<std::string>> Connection::notifications() {
  // libpq's sockets are non-blocking: this reads what has arrived and returns.
  if (PQconsumeInput(c_.get()) == 0) return pg_error("connection lost", PQerrorMessage(c_.get()));
  std::vector<std::string> out;
  while (PGnotify* n = PQnotifies(c_.get())) {
    out.emplace_back(n->extra);
    PQfreemem(n);
  }
  return out;
}

std::string Connection::literal(const Param& p) {
  if (!p) return "NULL";
  std::unique_ptr<char, void (*)(void*)> quoted(PQescapeLiteral(c_.get(), p->data(), p->size()),
                                                &PQfreemem);
  // Only out of memory fails; NULL then matches nothing, as a missing value would.
  return quoted ? std::string(quoted.get()) : std::string("NULL");
}

const std::string* Connection::prepared_name(const std::string& text, int n, PGresult*& refused) {
  refused = nullptr;
  if (n == 0) return nullptr;
  auto it = prepared_.find(text);
  if (it == prepared_.end() && prepare_ && prepared_.size() < kMaxPrepared) {
    std::string name = names_ + std::to_string(++named_);
    PGresult* p = PQprepare(c_.get(), name.c_str(), text.c_str(), n, nullptr);
    // A statement the server refuses fails here with the reason it would fail with unprepared.
    if (PQresultStatus(p) != PGRES_COMMAND_OK) {
      refused = p;
      return nullptr;
    }
    PQclear(p);
    it = prepared_.emplace(text, std::move(name)).first;
  }
  return it == prepared_.end() ? nullptr : &it->second;
}

PGresult* Connection::run(const std::string& text, const std::vector<const char*>& values) {
  const int n = static_cast<int>(values.size());
  // Without parameters, PQexec: a migration script holds several statements.
  if (n == 0) return PQexec(c_.get(), text.c_str());
  PGresult* refused = nullptr;
  const std::string* name = prepared_name(text, n, refused);
  if (refused) return refused;
  if (!name)
    return PQexecParams(c_.get(), text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
  return PQexecPrepared(c_.get(), name->c_str(), n, values.data(), nullptr, nullptr, 0);
}

bool Connection::forget_prepared(const PGresult* r) {
  // A prepared statement whose result a replica's migration changed ("cached plan must not
  // change result type") is prepared again. One that vanished (DEALLOCATE ALL, or a pooler
  // in transaction mode handing this connection another server session, as PgBouncer before
  // 1.21 does) means this session cannot keep them: the connection stops preparing until it
  // reconnects.
  const char* field = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const std::string_view state = field ? field : "";
  if (state != "26000" && state != "0A000") return false;
  prepared_.clear();
  if (state == "26000") prepare_ = false;
  return true;
}

Result<void> Connection::defer(std::string_view sql, std::vector<Param> params) {
  if (depth_ == 0) {
    auto r = exec(sql, params);
    if (!r) return r.error();
    return {};
  }
  deferred_.push_back({std::string(sql), std::move(params)});
  return {};
}

Result<std::vector<Rows>> Connection::pipeline(const std::vector<Statement>& batch) {
  // Nothing of the transaction has reached the server while its BEGIN is in the batch: a
  // connection dropped while idle is reset and the batch sent again, as exec does.
  const bool fresh = batch.front().text == "BEGIN";
  for (int attempt = 0;; ++attempt) {
    std::vector<std::vector<const char*>> values(batch.size());
    std::vector<const std::string*> names(batch.size(), nullptr);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      for (auto& p : batch[i].params) values[i].push_back(p ? p->c_str() : nullptr);
      PGresult* refused = nullptr;
      names[i] = prepared_name(batch[i].text, static_cast<int>(values[i].size()), refused);
      if (refused) {
        Rows failed(refused);
        return pg_error("query failed", PQresultErrorMessage(failed.raw()));
      }
    }
    if (PQenterPipelineMode(c_.get()) != 1)
      return pg_error("cannot start a pipeline", PQerrorMessage(c_.get()));
    std::size_t sent = 0;
    for (; sent < batch.size(); ++sent) {
      const int n = static_cast<int>(values[sent].size());
      const int ok = names[sent] ? PQsendQueryPrepared(c_.get(), names[sent]->c_str(), n,
                                                       values[sent].data(), nullptr, nullptr, 0)
                                 : PQsendQueryParams(c_.get(), batch[sent].text.c_str(), n, nullptr,
                                                     values[sent].data(), nullptr, nullptr, 0);
      if (!ok) break;
    }
    const bool synced = PQpipelineSync(c_.get()) == 1;
    // Each statement's result, then the NULL that ends it; after an error the server skips
    // the rest (PGRES_PIPELINE_ABORTED) up to the sync.
    std::vector<Rows> results;
    results.reserve(sent);
    std::optional<Rows> failed;
    bool lost = !synced || sent < batch.size();
    for (std::size_t i = 0; i < sent && !lost; ++i) {
      PGresult* r = PQgetResult(c_.get());
      if (!r) {
        lost = true;
        break;
      }
      Rows rows(r);
      while (PGresult* extra = PQgetResult(c_.get())) PQclear(extra);
      const auto status = PQresultStatus(r);
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        results.push_back(std::move(rows));
      } else if (!failed && status != PGRES_PIPELINE_ABORTED) {
        failed.emplace(std::move(rows));
      }
    }
    if (!lost) {
      Rows sync(PQgetResult(c_.get()));
      lost = PQresultStatus(sync.raw()) != PGRES_PIPELINE_SYNC;
    }
    if (lost || PQexitPipelineMode(c_.get()) != 1) {
      // The session's state is unknown: a new one, with nothing of this transaction.
      std::string message = PQerrorMessage(c_.get());
      PQreset(c_.get());
      prepared_.clear();
      prepare_ = true;
      if (attempt == 0 && fresh && PQstatus(c_.get()) == CONNECTION_OK) continue;
      return pg_error("query failed", message.c_str());
    }
    if (failed) {
      if (forget_prepared(failed->raw()) && attempt == 0 && fresh) {
        (void)exec("ROLLBACK");
        continue;
      }
      return pg_error("query failed", PQresultErrorMessage(failed->raw()));
    }
    return results;
  }
}

Result<std::vector<Rows>> Connection::commit_with(std::vector<Statement> batch) {
  if (depth_ != 1) return exec_all(std::move(batch));
  batch.push_back({"COMMIT", {}});
  auto r = exec_all(std::move(batch));
  if (!r) return r.error();
  committed_ = true;
  r->pop_back();
  return r;
}

Result<std::vector<Rows>> Connection::exec_all(std::vector<Statement> batch) {
  if (batch.empty()) return std::vector<Rows>();
  const std::size_t asked = batch.size();
  if (!deferred_.empty()) {
    batch.insert(batch.begin(), std::make_move_iterator(deferred_.begin()),
                 std::make_move_iterator(deferred_.end()));
    deferred_.clear();
  }
  auto r = pipeline(batch);
  if (!r) return r.error();
  r->erase(r->begin(), r->end() - static_cast<std::ptrdiff_t>(asked));
  return r;
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::string text(sql);
  if (!deferred_.empty()) {
    std::vector<Statement> batch = std::move(deferred_);
    deferred_.clear();
    // A statement with parameters, or COMMIT, goes in the same pipeline; one without (a script
    // of several, perhaps) runs after it.
    if (!params.empty() || text == "COMMIT") {
      batch.push_back({std::move(text), params});
      auto r = pipeline(batch);
      if (!r) return r.error();
      return std::move(r->back());
    }
    if (auto r = pipeline(batch); !r) return r.error();
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  for (int attempt = 0;; ++attempt) {
    Rows rows(run(text, values));
    const PGresult* r = rows.raw();
    auto status = PQresultStatus(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
    // A connection the server or network dropped: reconnect and try once more, unless a
    // transaction was open (its earlier statements are gone with it). The new session has
    // none of the old one's prepared statements.
    if (PQstatus(c_.get()) == CONNECTION_BAD && attempt == 0 && depth_ == 0) {
      PQreset(c_.get());
      prepared_.clear();
      prepare_ = true;
      if (PQstatus(c_.get()) == CONNECTION_OK) continue;
    }
    // Either way the statement is tried again when no transaction was open.
    if (forget_prepared(r) && attempt == 0 && depth_ == 0) continue;
    return pg_error("query failed", PQresultErrorMessage(r));
  }
}

}  // namespace bw::pg
