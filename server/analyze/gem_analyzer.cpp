// Ruby: installed gems, from the specifications RubyGems keeps for them (…/specifications/).
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"

#include <algorithm>

namespace bw::detail {
namespace {

// A specification is a few KiB; its attributes come before the file lists that can be long.
constexpr std::size_t kGemspecHead = 64 * 1024;

class GemAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "gem"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && is_gemspec_path(e.path) ? std::min(o.max_file_read_bytes, kGemspecHead)
                                                    : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    if (auto p = parse_gemspec(head)) out.app_packages.push_back(std::move(*p));
  }
};

}  // namespace

const Analyzer& gem_analyzer() {
  static const GemAnalyzer a;
  return a;
}

}  // namespace bw::detail
