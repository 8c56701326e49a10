// Executables: ELF linkage, hardening flags and Go build info (with the modules a Go binary was
// built from, read from its data segment when the head does not reach it). Shared libraries
// too, whatever their mode (Debian installs them 0644): what they load and the name they are
// loaded by, so that a library the app needs can be carried with what it needs in turn.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"
#include "analyze/elf.h"
#include "common/text.h"

#include <algorithm>

namespace bw::detail {
namespace {

// "libz.so", "libz.so.1.2.13", "_ssl.cpython-311-x86_64-linux-gnu.so".
bool shared_object_name(std::string_view path) {
  std::string_view base = path_base_name(path);
  return base.ends_with(".so") || base.find(".so.") != std::string_view::npos;
}

class ElfAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "elf"; }
  int version() const override { return 4; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    if (e.kind == 'f' && e.size >= 64 && shared_object_name(e.path)) return o.max_elf_read_bytes;
    return elf_bytes_wanted(e, o);
  }
  void analyze(const EntryView&, std::string_view head, bool truncated, const AnalyzeOptions&,
               FileInfo& out) const override {
    GoBuildInfo go;
    out.elf = analyze_elf(head, truncated, &go);
    if (out.elf && !go.go_version.empty()) out.app_packages = go_packages(go);
  }
  // A Go binary whose build info lies past the head: it is in the first writable segment.
  std::optional<LaterRange> wants_later(const EntryView&, std::string_view head,
                                        const FileInfo& facts,
                                        const AnalyzeOptions& o) const override {
    if (!facts.elf || facts.elf->go != "go") return std::nullopt;
    auto segment = elf_writable_segment(head);
    if (!segment || segment->first + segment->second <= head.size()) return std::nullopt;
    std::uint64_t from = std::max<std::uint64_t>(segment->first, head.size());
    std::uint64_t length =
        std::min<std::uint64_t>(segment->first + segment->second - from, o.max_elf_read_bytes);
    return LaterRange{from, static_cast<std::size_t>(length)};
  }
  void analyze_later(const EntryView&, std::string_view, std::uint64_t, std::string_view bytes,
                     const AnalyzeOptions&, FileInfo& out) const override {
    auto at = find_go_buildinfo(bytes);
    auto build = at ? parse_go_buildinfo(bytes, *at) : std::nullopt;
    if (!build || !out.elf) return;
    set_go_build(*out.elf, *build);
    out.app_packages = go_packages(*build);
  }
};

}  // namespace

std::size_t elf_bytes_wanted(const EntryView& e, const AnalyzeOptions& o) {
  return e.kind == 'f' && (e.mode & 0111) && e.size >= 64 ? o.max_elf_read_bytes : 0;
}

const Analyzer& elf_analyzer() {
  static const ElfAnalyzer a;
  return a;
}

}  // namespace bw::detail
