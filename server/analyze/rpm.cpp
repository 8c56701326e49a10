#include "analyze/packages.h"

#include <sqlite3.h>

#include <cstring>
#include <memory>

namespace bw {
namespace {

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// Reads the tags we need from an RPM header blob: il, dl, il index entries, dl data bytes.
bool read_header(const unsigned char* blob, std::size_t size, Package& p) {
  if (size < 8) return false;
  std::uint32_t il = be32(blob), dl = be32(blob + 4);
  if (il > 100'000 || dl > size || 8 + std::uint64_t{il} * 16 + dl > size) return false;
  const unsigned char* data = blob + 8 + il * 16;
  std::string release, source_rpm;
  long epoch = -1;
  for (std::uint32_t i = 0; i < il; ++i) {
    const unsigned char* e = blob + 8 + i * 16;
    std::uint32_t tag = be32(e), type = be32(e + 4), off = be32(e + 8);
    if (off >= dl) continue;
    auto str = [&] {
      const char* s = reinterpret_cast<const char*>(data + off);
      return std::string(s, strnlen(s, dl - off));
    };
    bool is_string = type == 6 || type == 9;
    switch (tag) {
      case 1000:
        if (is_string) p.name = str();
        break;
      case 1001:
        if (is_string) p.version = str();
        break;
      case 1002:
        if (is_string) release = str();
        break;
      case 1003:
        if (type == 4 && off + 4 <= dl) epoch = static_cast<long>(be32(data + off));
        break;
      case 1022:
        if (is_string) p.arch = str();
        break;
      case 1011:
        if (is_string) p.maintainer = str();
        break;
      case 1044:
        if (is_string) source_rpm = str();
        break;
      default:
        break;
    }
  }
  if (p.name.empty() || p.version.empty()) return false;
  std::string evr = (epoch > 0 ? std::to_string(epoch) + ":" : "") + p.version +
                    (release.empty() ? "" : "-" + release);
  p.version = evr;
  p.source_name = p.name;
  p.source_version = evr;
  // "glibc-2.17-317.el7.src.rpm" → name glibc, version 2.17-317.el7
  if (source_rpm.ends_with(".src.rpm")) {
    std::string base = source_rpm.substr(0, source_rpm.size() - 8);
    auto r = base.rfind('-');
    auto v = r == std::string::npos ? std::string::npos : base.rfind('-', r - 1);
    if (v != std::string::npos) {
      p.source_name = base.substr(0, v);
      p.source_version = (epoch > 0 ? std::to_string(epoch) + ":" : "") + base.substr(v + 1);
    }
  }
  p.manager = "rpm";
  return true;
}

}  // namespace

Result<std::vector<Package>> parse_rpm_sqlite(std::string_view bytes) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return make_error(Errc::internal, "sqlite open failed");
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, sqlite3_close);
  // The database is untrusted layer content: read it from memory, read-only.
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (!buf) return make_error(Errc::internal, "out of memory");
  std::memcpy(buf, bytes.data(), bytes.size());
  // rpm keeps its database in WAL mode (header bytes 18-19 are 2). A WAL database opened from
  // memory would look for its -wal file and fail; read as a rollback-journal database it is the
  // same pages, and the checkpointed content is all a layer holds anyway.
  if (bytes.size() >= 100 && buf[18] == 2 && buf[19] == 2) buf[18] = buf[19] = 1;
  if (sqlite3_deserialize(db.get(), "main", buf, static_cast<sqlite3_int64>(bytes.size()),
                          static_cast<sqlite3_int64>(bytes.size()),
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
      SQLITE_OK)
    return make_error(Errc::unsupported_media_type, "rpmdb.sqlite is not a SQLite database");
  sqlite3_stmt* raw_st = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT blob FROM Packages", -1, &raw_st, nullptr) != SQLITE_OK)
    return make_error(Errc::unsupported_media_type,
                      std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get()));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st(raw_st, sqlite3_finalize);
  std::vector<Package> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    Package p;
    auto* blob = static_cast<const unsigned char*>(sqlite3_column_blob(st.get(), 0));
    if (blob && read_header(blob, static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0)), p) &&
        p.name != "gpg-pubkey")
      out.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE)
    return make_error(Errc::unsupported_media_type,
                      std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get()));
  return out;
}

}  // namespace bw
