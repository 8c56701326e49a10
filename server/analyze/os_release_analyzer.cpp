// os-release and the other release files: the OS family and version.
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "analyze/os_release.h"

namespace bw::detail {
namespace {

class OsReleaseAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "os-release"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && is_os_release_path(e.path) ? o.max_file_read_bytes : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& facts) const override {
    facts.os = parse_os_release_file(e.path, head, facts.os_error);
  }
};

}  // namespace

const Analyzer& os_release_analyzer() {
  static const OsReleaseAnalyzer a;
  return a;
}

}  // namespace bw::detail
