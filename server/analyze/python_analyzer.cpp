// Python: installed distributions, from their core metadata in site-packages or dist-packages.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"

#include <algorithm>

namespace bw::detail {
namespace {

// The headers come first; the long description after them can be large and is not needed.
constexpr std::size_t kMetadataHead = 64 * 1024;

class PythonAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "python"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && is_python_metadata_path(e.path)
               ? std::min(o.max_file_read_bytes, kMetadataHead)
               : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    if (auto p = parse_python_metadata(head)) out.app_packages.push_back(std::move(*p));
  }
};

}  // namespace

const Analyzer& python_analyzer() {
  static const PythonAnalyzer a;
  return a;
}

}  // namespace bw::detail
