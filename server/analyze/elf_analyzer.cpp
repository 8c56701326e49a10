// Executables: ELF linkage, hardening flags and Go build info.
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "analyze/elf.h"

namespace bw::detail {
namespace {

class ElfAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "elf"; }
  int version() const override { return 2; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && (e.mode & 0111) && e.size >= 64 ? o.max_elf_read_bytes : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool truncated, const AnalyzeOptions&,
               FileInfo& out) const override {
    out.elf = analyze_elf(head, truncated);
  }
};

}  // namespace

const Analyzer& elf_analyzer() {
  static const ElfAnalyzer a;
  return a;
}

}  // namespace bw::detail
