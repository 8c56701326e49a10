#include "tar_builder.h"

#include "common/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <stdexcept>

namespace bw::test {

TarBuilder& TarBuilder::file(const std::string& path, const std::string& content,
                             std::uint32_t mode, std::int64_t uid, std::int64_t gid) {
  entries_.push_back({path, 'f', content, mode, uid, gid, "", 0});
  return *this;
}
TarBuilder& TarBuilder::dir(const std::string& path, std::uint32_t mode) {
  entries_.push_back({path, 'd', "", mode, 0, 0, "", 0});
  return *this;
}
TarBuilder& TarBuilder::symlink(const std::string& path, const std::string& target) {
  entries_.push_back({path, 'l', "", 0777, 0, 0, target, 0});
  return *this;
}
TarBuilder& TarBuilder::hardlink(const std::string& path, const std::string& target) {
  entries_.push_back({path, 'h', "", 0644, 0, 0, target, 0});
  return *this;
}
TarBuilder& TarBuilder::zeros(const std::string& path, std::uint64_t size) {
  entries_.push_back({path, 'z', "", 0644, 0, 0, "", size});
  return *this;
}

TarBuilder& TarBuilder::xattr(const std::string& name, const std::string& value) {
  if (entries_.empty()) throw std::logic_error("xattr before any entry");
  entries_.back().xattrs.emplace_back(name, value);
  return *this;
}

std::string TarBuilder::build() const {
  struct Free {
    void operator()(archive* a) const { archive_write_free(a); }
  };
  // Declared first, so that it outlives the archive: freeing an archive not closed cleanly
  // writes to it once more.
  std::string out;
  std::unique_ptr<archive, Free> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  auto write_cb = [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a.get(), &out, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    throw std::runtime_error("archive_write_open failed");
  for (auto& e : entries_) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> ent(archive_entry_new(),
                                                                      archive_entry_free);
    archive_entry_set_pathname(ent.get(), e.path.c_str());
    archive_entry_set_uid(ent.get(), e.uid);
    archive_entry_set_gid(ent.get(), e.gid);
    archive_entry_set_mtime(ent.get(), 1700000000, 0);
    switch (e.kind) {
      case 'f':
      case 'z':
        archive_entry_set_filetype(ent.get(), AE_IFREG);
        archive_entry_set_size(ent.get(), e.kind == 'f' ? static_cast<la_int64_t>(e.content.size())
                                                        : static_cast<la_int64_t>(e.zero_size));
        break;
      case 'd':
        archive_entry_set_filetype(ent.get(), AE_IFDIR);
        break;
      case 'l':
        archive_entry_set_filetype(ent.get(), AE_IFLNK);
        archive_entry_set_symlink(ent.get(), e.link.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(ent.get(), AE_IFREG);
        archive_entry_set_hardlink(ent.get(), e.link.c_str());
        archive_entry_set_size(ent.get(), 0);
        break;
    }
    archive_entry_set_perm(ent.get(), e.mode);
    for (auto& [name, value] : e.xattrs)
      archive_entry_xattr_add_entry(ent.get(), name.c_str(), value.data(), value.size());
    if (archive_write_header(a.get(), ent.get()) != ARCHIVE_OK)
      throw std::runtime_error(std::string("archive_write_header: ") +
                               archive_error_string(a.get()));
    if (e.kind == 'f' && !e.content.empty() &&
        archive_write_data(a.get(), e.content.data(), e.content.size()) !=
            static_cast<la_ssize_t>(e.content.size()))
      throw std::runtime_error(std::string("archive_write_data: ") + archive_error_string(a.get()));
    if (e.kind == 'z') {
      std::string block(64 * 1024, '\0');
      for (std::uint64_t left = e.zero_size; left > 0;) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
        archive_write_data(a.get(), block.data(), n);
        left -= n;
      }
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw std::runtime_error(std::string("archive_write_close: ") + archive_error_string(a.get()));
  a.reset();
  return out;
}

namespace {

// zlib's window bits say the framing: 15 + 16 gzip, -15 raw deflate.
std::string deflated(const std::string& data, int window_bits) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  return out;
}

}  // namespace

std::string gzip(const std::string& data) {
  return deflated(data, 15 + 16);
}

std::string raw_deflate(const std::string& data) {
  return deflated(data, -15);
}

std::string zlib_compress(const std::string& data) {
  return deflated(data, 15);
}

std::string zlib_decompress(const std::string& data) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw std::runtime_error("inflateInit");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buf[16384];
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("inflate: not a whole zlib stream");
  return out;
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  if (ZSTD_isError(n)) throw std::runtime_error("ZSTD_compress");
  out.resize(n);
  return out;
}

std::string sha256(const std::string& data) {
  return sha256_digest(data);
}

std::string incompressible(std::size_t n, std::uint32_t seed) {
  std::string out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    out.push_back(static_cast<char>(seed));
  }
  return out;
}

std::string gzip_bomb(std::uint64_t size) {
  // A tar header for one big file, then `size` zeros, deflated in pieces so that the inflated
  // form never exists in memory.
  std::string header = TarBuilder().zeros("bomb", 0).build().substr(0, 512);
  // Patch the size field (octal, 11 digits + NUL at offset 124) and the checksum.
  char octal[12];
  std::snprintf(octal, sizeof octal, "%011llo", static_cast<unsigned long long>(size));
  header.replace(124, 12, std::string(octal, 11) + '\0');
  header.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  header.replace(148, 8, std::string(chk, 6) + '\0' + ' ');

  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out;
  std::string buf(1 << 16, '\0');
  auto pump = [&](const char* p, std::size_t n, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      out.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  };
  pump(header.data(), header.size(), Z_NO_FLUSH);
  std::string zeros(1 << 20, '\0');
  for (std::uint64_t left = size; left > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, zeros.size()));
    pump(zeros.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  pump(zeros.data(), 1024, Z_FINISH);
  deflateEnd(&zs);
  return out;
}

}  // namespace bw::test
