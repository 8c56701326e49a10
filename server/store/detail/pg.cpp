#include "store/detail/pg.h"

#include "common/digest.h"

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

std::string redact(const std::string& conninfo) {
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  auto scheme = conninfo.find("://");
  if (scheme == std::string::npos) {
    auto at = conninfo.find("password=");
    if (at == std::string::npos) return conninfo;
    auto end = conninfo.find(' ', at);
    return conninfo.substr(0, at) + "password=***" +
           (end == std::string::npos ? "" : conninfo.substr(end));
  }
  auto at = conninfo.find('@', scheme);
  auto colon = conninfo.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return conninfo;
  return conninfo.substr(0, colon + 1) + "***" + conninfo.substr(at);
}

Result<Connection> Connection::open(const std::string& conninfo) {
  Connection c(PQconnectdb(conninfo.c_str()));
  if (!c.c_) return make_error(Errc::unavailable, "postgresql: out of memory");
  if (PQstatus(c.c_.get()) != CONNECTION_OK)
    return pg_error("cannot connect to " + redact(conninfo), PQerrorMessage(c.c_.get()));
  c.names_ = "bw_" + random_hex(8) + "_";
  // Notices (a migration's "already exists", say) would go to stderr unformatted.
  PQsetNoticeProcessor(
      c.c_.get(), [](void*, const char*) {}, nullptr);
  return c;
}

std::string Connection::literal(const Param& p) {
  if (!p) return "NULL";
  std::unique_ptr<char, void (*)(void*)> quoted(PQescapeLiteral(c_.get(), p->data(), p->size()),
                                                &PQfreemem);
  // Only out of memory fails; NULL then matches nothing, as a missing value would.
  return quoted ? std::string(quoted.get()) : std::string("NULL");
}

PGresult* Connection::run(const std::string& text, const std::vector<const char*>& values) {
  const int n = static_cast<int>(values.size());
  // Without parameters, PQexec: a migration script holds several statements.
  if (n == 0) return PQexec(c_.get(), text.c_str());
  auto it = prepared_.find(text);
  if (it == prepared_.end() && prepare_ && prepared_.size() < kMaxPrepared) {
    std::string name = names_ + std::to_string(++named_);
    PGresult* p = PQprepare(c_.get(), name.c_str(), text.c_str(), n, nullptr);
    // A statement the server refuses fails here with the reason it would fail with unprepared.
    if (PQresultStatus(p) != PGRES_COMMAND_OK) return p;
    PQclear(p);
    it = prepared_.emplace(text, std::move(name)).first;
  }
  if (it == prepared_.end())
    return PQexecParams(c_.get(), text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
  return PQexecPrepared(c_.get(), it->second.c_str(), n, values.data(), nullptr, nullptr, 0);
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::string text(sql);
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
    // A prepared statement whose result a replica's migration changed ("cached plan must not
    // change result type") is prepared again. One that vanished (DEALLOCATE ALL, or a pooler
    // in transaction mode handing this connection another server session, as PgBouncer before
    // 1.21 does) means this session cannot keep them: the connection stops preparing until it
    // reconnects. Either way the statement is tried again when no transaction was open.
    const char* field = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const std::string_view state = field ? field : "";
    if (state == "26000" || state == "0A000") {
      prepared_.clear();
      if (state == "26000") prepare_ = false;
      if (attempt == 0 && depth_ == 0) continue;
    }
    return pg_error("query failed", PQresultErrorMessage(r));
  }
}

}  // namespace bw::pg
