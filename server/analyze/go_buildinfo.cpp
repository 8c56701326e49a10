// Go's build information: since Go 1.18 the linker writes, after a 32-byte header, the Go
// version and the module information (`go version -m`) as length-prefixed strings.
#include "analyze/app_packages.h"
#include "common/text.h"

namespace bw {
namespace {

constexpr std::string_view kMagic("\xff Go buildinf:", 14);
constexpr std::size_t kHeader = 32;
constexpr std::uint8_t kInlineStrings = 2;
// The module information is framed by 16 bytes each side.
constexpr std::size_t kSentinel = 16;

// A uvarint-prefixed string at `p`, advancing it; nullopt when cut short or implausible.
std::optional<std::string_view> read_string(std::string_view d, std::size_t& p,
                                            std::size_t max_len) {
  std::uint64_t len = 0;
  for (int shift = 0;; shift += 7) {
    if (p >= d.size() || shift > 56) return std::nullopt;
    auto b = static_cast<unsigned char>(d[p++]);
    len |= std::uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (len > max_len || len > d.size() - p) return std::nullopt;
  std::string_view s = d.substr(p, static_cast<std::size_t>(len));
  p += static_cast<std::size_t>(len);
  return s;
}

AppPackage module(std::string_view path, std::string_view version) {
  AppPackage m;
  m.ecosystem = "golang";
  m.name = std::string(path);
  m.version = std::string(version);
  return m;
}

}  // namespace

std::optional<std::size_t> find_go_buildinfo(std::string_view bytes) {
  for (std::size_t at = bytes.find(kMagic); at != std::string_view::npos;
       at = bytes.find(kMagic, at + 1)) {
    // The pointer size byte follows the magic: 4 or 8.
    if (at + 16 <= bytes.size() && (bytes[at + 14] == 4 || bytes[at + 14] == 8)) return at;
  }
  return std::nullopt;
}

std::optional<GoBuildInfo> parse_go_buildinfo(std::string_view d, std::size_t at) {
  if (at + kHeader > d.size() || d.substr(at, kMagic.size()) != kMagic) return std::nullopt;
  if (!(static_cast<std::uint8_t>(d[at + 15]) & kInlineStrings)) return std::nullopt;
  std::size_t p = at + kHeader;
  auto version = read_string(d, p, 64);
  if (!version || version->empty()) return std::nullopt;
  GoBuildInfo info;
  info.go_version = std::string(*version);
  auto modinfo = read_string(d, p, 16 << 20);
  if (!modinfo) return info;
  std::string_view text = *modinfo;
  if (text.size() >= 2 * kSentinel + 1 && text[text.size() - kSentinel - 1] == '\n')
    text = text.substr(kSentinel, text.size() - 2 * kSentinel);
  for (const std::string& line : split(text, '\n')) {
    std::vector<std::string> f = split(line, '\t');
    if (f.size() >= 2 && f[0] == "path") {
      info.path = f[1];
    } else if (f.size() >= 3 && f[0] == "mod") {
      info.main = module(f[1], f[2]);
    } else if (f.size() >= 3 && f[0] == "dep") {
      info.deps.push_back(module(f[1], f[2]));
    } else if (f.size() >= 3 && f[0] == "=>") {
      // Replaces the module of the line before: the replacement is what was built.
      AppPackage& target = !info.deps.empty() ? info.deps.back() : info.main.emplace();
      target = module(f[1], f[2]);
    } else if (f.size() >= 2 && f[0] == "build") {
      std::size_t eq = f[1].find('=');
      if (eq != std::string::npos) info.settings[f[1].substr(0, eq)] = f[1].substr(eq + 1);
    }
  }
  return info;
}

std::vector<AppPackage> go_packages(const GoBuildInfo& info) {
  std::vector<AppPackage> out;
  if (info.main) out.push_back(*info.main);
  out.insert(out.end(), info.deps.begin(), info.deps.end());
  if (!info.go_version.empty()) out.push_back(module("stdlib", info.go_version));
  return out;
}

}  // namespace bw
