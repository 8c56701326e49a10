// Builds layer tarballs in memory for tests (libarchive, pax format), and compresses them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bw::test {

class TarBuilder {
 public:
  TarBuilder& file(const std::string& path, const std::string& content, std::uint32_t mode = 0644,
                   std::int64_t uid = 0, std::int64_t gid = 0);
  TarBuilder& dir(const std::string& path, std::uint32_t mode = 0755);
  TarBuilder& symlink(const std::string& path, const std::string& target);
  TarBuilder& hardlink(const std::string& path, const std::string& target);
  // A regular-file header declaring `size` bytes of zeros (built lazily, so large is cheap
  // only in the compressed form produced by compress_* on the result).
  TarBuilder& zeros(const std::string& path, std::uint64_t size);
  // An extended attribute on the entry added last (pax SCHILY.xattr.NAME, as GNU tar --xattrs
  // writes it): "security.capability" carries file capabilities.
  TarBuilder& xattr(const std::string& name, const std::string& value);
  // The uncompressed tar stream.
  std::string build() const;

 private:
  struct Entry {
    std::string path;
    char kind;
    std::string content;
    std::uint32_t mode;
    std::int64_t uid, gid;
    std::string link;
    std::uint64_t zero_size = 0;
    std::vector<std::pair<std::string, std::string>> xattrs = {};
  };
  std::vector<Entry> entries_;
};

std::string gzip(const std::string& data);
// Deflate without a header (a zip entry's method 8).
std::string raw_deflate(const std::string& data);
// zlib (RFC 1950) both ways, as binaries embed data (cargo auditable's .dep-v0 section).
// zlib_decompress throws when `data` is not a whole zlib stream.
std::string zlib_compress(const std::string& data);
std::string zlib_decompress(const std::string& data);
std::string zstd(const std::string& data);
std::string sha256(const std::string& data);  // "sha256:…"
// `n` bytes that gzip cannot shrink (xorshift from `seed`): a layer whose compressed size is its
// content's, for transfers a test drips or interrupts.
std::string incompressible(std::size_t n, std::uint32_t seed);

// A gzip stream that inflates to `size` zero bytes wrapped as one tar entry, built without
// holding the inflated form: a decompression bomb.
std::string gzip_bomb(std::uint64_t size);

}  // namespace bw::test
