// Runtimes installed from upstream archives: Node.js's version header, a JDK's release file.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"

#include <algorithm>

namespace bw::detail {
namespace {

// Both files are a few KiB; the version comes first in node_version.h's defines and release.
constexpr std::size_t kReleaseHead = 16 * 1024;

class RuntimeAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "runtime"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && (is_node_version_header(e.path) || is_java_release_file(e.path))
               ? std::min(o.max_file_read_bytes, kReleaseHead)
               : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    auto p =
        is_node_version_header(e.path) ? parse_node_version_header(head) : parse_java_release(head);
    if (p) out.app_packages.push_back(std::move(*p));
  }
};

}  // namespace

const Analyzer& runtime_analyzer() {
  static const RuntimeAnalyzer a;
  return a;
}

}  // namespace bw::detail
