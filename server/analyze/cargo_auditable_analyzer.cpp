// Rust binaries built with `cargo auditable`: the crates in their .dep-v0 section. The section
// headers that locate it lie at the binary's end; past the head they are read later, with the
// section's names just before them, and the section found in either part.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"
#include "analyze/elf.h"

#include <algorithm>

namespace bw::detail {
namespace {

constexpr std::string_view kSection = ".dep-v0";
// Linkers write the section names (.shstrtab, a few hundred bytes) just before the headers.
constexpr std::uint64_t kNamesLead = 64 * 1024;

class CargoAuditableAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "cargo-auditable"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return elf_bytes_wanted(e, o);
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions& o,
               FileInfo& out) const override {
    add(elf_section(ElfPieces{head, 0, {}}, kSection), o, out);
  }
  std::optional<LaterRange> wants_later(const EntryView&, std::string_view head, const FileInfo&,
                                        const AnalyzeOptions& o) const override {
    auto table = elf_section_table(head);
    if (!table || table->first + table->second <= head.size()) return std::nullopt;
    if (table->second > o.max_elf_read_bytes) return std::nullopt;
    // The names' lead within the same read limit as the head.
    std::uint64_t lead = std::min({kNamesLead, o.max_elf_read_bytes - table->second, table->first});
    std::uint64_t from = std::max<std::uint64_t>(head.size(), table->first - lead);
    std::uint64_t length = table->first + table->second - from;
    return LaterRange{from, static_cast<std::size_t>(length)};
  }
  void analyze_later(const EntryView&, std::string_view head, std::uint64_t at,
                     std::string_view bytes, const AnalyzeOptions& o,
                     FileInfo& out) const override {
    add(elf_section(ElfPieces{head, at, bytes}, kSection), o, out);
  }

 private:
  static void add(std::optional<std::string_view> section, const AnalyzeOptions& o, FileInfo& out) {
    if (!section) return;
    for (auto& p : parse_cargo_auditable(*section, o.max_file_read_bytes))
      out.app_packages.push_back(std::move(p));
  }
};

}  // namespace

const Analyzer& cargo_auditable_analyzer() {
  static const CargoAuditableAnalyzer a;
  return a;
}

}  // namespace bw::detail
