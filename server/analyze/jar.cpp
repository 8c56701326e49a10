// Java archives: a zip's central directory, then the few entries that name what the archive
// is (Maven's pom.properties, the manifest) and the archives nested in it.
#include "analyze/app_packages.h"
#include "common/text.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>

namespace bw {
namespace {

std::uint64_t le(std::string_view d, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= std::uint64_t(static_cast<unsigned char>(d[at + static_cast<std::size_t>(i)])) << (8 * i);
  return v;
}

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;
  std::uint64_t compressed = 0, size = 0, local_offset = 0;
};

// The central directory's entries; an error when there is none to read.
bool central_directory(std::string_view d, std::vector<ZipEntry>& out, std::string& error) {
  constexpr std::size_t kEnd = 22;
  if (d.size() < kEnd) {
    error = "not a zip archive";
    return false;
  }
  // The end record is in the last 64 KiB + 22 bytes (its comment is at most 64 KiB).
  std::size_t lowest = d.size() > kEnd + 0xffff ? d.size() - kEnd - 0xffff : 0;
  std::size_t eocd = std::string_view::npos;
  for (std::size_t at = d.size() - kEnd + 1; at-- > lowest;)
    if (d.substr(at, 4) == "PK\x05\x06") {
      eocd = at;
      break;
    }
  if (eocd == std::string_view::npos) {
    error = "no zip end-of-central-directory record";
    return false;
  }
  std::uint64_t count = le(d, eocd + 10, 2), cd_size = le(d, eocd + 12, 4),
                cd_offset = le(d, eocd + 16, 4);
  // Zip64: the locator just before the end record points to the 64-bit one.
  if ((count == 0xffff || cd_offset == 0xffffffff) && eocd >= 20 &&
      d.substr(eocd - 20, 4) == "PK\x06\x07") {
    std::uint64_t z = le(d, eocd - 20 + 8, 8);
    if (z + 56 <= d.size() && d.substr(static_cast<std::size_t>(z), 4) == "PK\x06\x06") {
      count = le(d, static_cast<std::size_t>(z) + 32, 8);
      cd_size = le(d, static_cast<std::size_t>(z) + 40, 8);
      cd_offset = le(d, static_cast<std::size_t>(z) + 48, 8);
    }
  }
  if (cd_offset > d.size() || cd_size > d.size() - cd_offset) {
    error = "zip central directory outside the archive";
    return false;
  }
  std::size_t p = static_cast<std::size_t>(cd_offset), end = p + static_cast<std::size_t>(cd_size);
  for (std::uint64_t i = 0; i < count && p + 46 <= end; ++i) {
    if (d.substr(p, 4) != "PK\x01\x02") break;
    ZipEntry e;
    e.method = static_cast<std::uint16_t>(le(d, p + 10, 2));
    e.compressed = le(d, p + 20, 4);
    e.size = le(d, p + 24, 4);
    std::size_t name_len = le(d, p + 28, 2), extra_len = le(d, p + 30, 2),
                comment_len = le(d, p + 32, 2);
    e.local_offset = le(d, p + 42, 4);
    if (p + 46 + name_len + extra_len > end) break;
    e.name = std::string(d.substr(p + 46, name_len));
    // Zip64 sizes and offset, in that order, for the fields that overflowed.
    std::string_view extra = d.substr(p + 46 + name_len, extra_len);
    for (std::size_t x = 0; x + 4 <= extra.size();) {
      std::size_t id = le(extra, x, 2), len = le(extra, x + 2, 2);
      if (x + 4 + len > extra.size()) break;
      if (id == 1) {
        std::size_t q = x + 4;
        auto take = [&](std::uint64_t& field) {
          if (field == 0xffffffff && q + 8 <= x + 4 + len) {
            field = le(extra, q, 8);
            q += 8;
          }
        };
        take(e.size);
        take(e.compressed);
        take(e.local_offset);
      }
      x += 4 + len;
    }
    out.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return true;
}

// The entry's bytes, inflated; nullopt when unreadable or larger than `max`.
std::optional<std::string> entry_bytes(std::string_view d, const ZipEntry& e, std::size_t max) {
  if (e.size > max || e.local_offset + 30 > d.size()) return std::nullopt;
  std::size_t at = static_cast<std::size_t>(e.local_offset);
  if (d.substr(at, 4) != "PK\x03\x04") return std::nullopt;
  std::size_t data = at + 30 + le(d, at + 26, 2) + le(d, at + 28, 2);
  if (data > d.size() || e.compressed > d.size() - data) return std::nullopt;
  std::string_view in = d.substr(data, static_cast<std::size_t>(e.compressed));
  if (e.method == 0) return std::string(in.substr(0, static_cast<std::size_t>(e.size)));
  if (e.method != 8) return std::nullopt;
  std::string out(static_cast<std::size_t>(e.size), '\0');
  inflate_state s{};
  isal_inflate_init(&s);
  s.crc_flag = ISAL_DEFLATE;
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<std::uint32_t>(in.size());
  s.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  s.avail_out = static_cast<std::uint32_t>(out.size());
  int rc = isal_inflate(&s);
  if (rc != ISAL_DECOMP_OK || s.avail_out != 0) return std::nullopt;
  return out;
}

// key=value lines (pom.properties) or "Key: value" lines (a manifest's main section).
std::map<std::string, std::string> fields(std::string_view text, char sep) {
  std::map<std::string, std::string> out;
  for (std::string& line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (sep == ':') break;  // the manifest's main section ends at the first blank line
      continue;
    }
    if (line[0] == '#' || line[0] == ' ') continue;
    std::size_t at = line.find(sep);
    if (at == std::string::npos) continue;
    out.emplace(trim(line.substr(0, at)), trim(line.substr(at + 1)));
  }
  return out;
}

// "commons-io-2.11.0.jar" -> {"commons-io", "2.11.0"}: the version starts at the first
// "-digit".
std::pair<std::string, std::string> name_and_version(std::string_view file_name) {
  std::string_view stem = file_name.substr(0, file_name.rfind('.'));
  for (std::size_t i = 0; i + 1 < stem.size(); ++i)
    if (stem[i] == '-' && std::isdigit(static_cast<unsigned char>(stem[i + 1])))
      return {std::string(stem.substr(0, i)), std::string(stem.substr(i + 1))};
  return {std::string(stem), ""};
}

AppPackage maven(std::string group, std::string name, std::string version, std::string origin) {
  AppPackage p;
  p.ecosystem = "maven";
  p.group = std::move(group);
  p.name = std::move(name);
  p.version = std::move(version);
  p.origin = std::move(origin);
  return p;
}

void read_into(std::string_view d, std::string_view file_name, const std::string& prefix,
               const JarLimits& limits, int depth, std::size_t& nested_budget, JarContents& out) {
  std::vector<ZipEntry> entries;
  std::string error;
  if (!central_directory(d, entries, error)) {
    if (!prefix.empty()) return;
    out.error = error;
    // Unreadable (or too large to read): what its name says, when it names a version.
    if (auto [name, version] = name_and_version(path_base_name(file_name)); !version.empty())
      out.packages.push_back(maven("", name, version, ""));
    return;
  }
  bool from_pom = false;
  const ZipEntry* manifest = nullptr;
  for (auto& e : entries) {
    if (e.name == "META-INF/MANIFEST.MF") manifest = &e;
    if (!e.name.starts_with("META-INF/maven/") || !e.name.ends_with("/pom.properties")) continue;
    auto text = entry_bytes(d, e, limits.max_entry_bytes);
    if (!text) continue;
    auto f = fields(*text, '=');
    if (f["artifactId"].empty() || f["version"].empty()) continue;
    out.packages.push_back(maven(f["groupId"], f["artifactId"], f["version"], prefix + e.name));
    from_pom = true;
  }
  if (!from_pom) {
    // No Maven metadata: the manifest's title and version, else the file's name.
    auto [name, version] = name_and_version(path_base_name(file_name));
    std::string group;
    if (manifest)
      if (auto text = entry_bytes(d, *manifest, limits.max_entry_bytes)) {
        auto f = fields(*text, ':');
        std::string v = !f["Implementation-Version"].empty() ? f["Implementation-Version"]
                                                             : f["Bundle-Version"];
        if (!v.empty() && version.empty()) version = v;
        std::string title = f["Implementation-Title"];
        if (name.empty() && !title.empty()) name = title;
        group = f["Implementation-Vendor-Id"];
      }
    if (!name.empty())
      out.packages.push_back(maven(group, name, version, prefix + "META-INF/MANIFEST.MF"));
  }
  if (depth <= 0) return;
  for (auto& e : entries) {
    if (!is_java_archive_path(e.name)) continue;
    if (nested_budget == 0) break;
    --nested_budget;
    auto inner = entry_bytes(d, e, limits.max_nested_bytes);
    if (!inner) continue;
    read_into(*inner, e.name, prefix + e.name + "!", limits, depth - 1, nested_budget, out);
  }
}

}  // namespace

bool is_java_archive_path(std::string_view path) {
  return path.ends_with(".jar") || path.ends_with(".war") || path.ends_with(".ear");
}

JarContents read_jar(std::string_view bytes, std::string_view file_name, const JarLimits& limits) {
  JarContents out;
  std::size_t nested_budget = limits.max_nested_archives;
  read_into(bytes, file_name, "", limits, limits.depth, nested_budget, out);
  return out;
}

}  // namespace bw
