// Java: the artifacts a jar, war or ear holds (Maven's pom.properties, else its manifest or
// name), nested archives included to a bounded depth.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

namespace bw::detail {
namespace {

class JarAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "jar"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    if (e.kind != 'f' || !is_java_archive_path(e.path)) return 0;
    // Too large to read whole: named by its file, without holding its bytes.
    return e.size > o.max_archive_read_bytes ? 1 : o.max_archive_read_bytes;
  }
  void analyze(const EntryView& e, std::string_view head, bool truncated, const AnalyzeOptions& o,
               FileInfo& out) const override {
    JarLimits limits;
    limits.max_nested_bytes = o.max_archive_read_bytes;
    JarContents jar =
        read_jar(truncated ? std::string_view() : head, path_base_name(e.path), limits);
    out.app_packages = std::move(jar.packages);
    out.archive_error = truncated ? "larger than max_archive_read_bytes" : jar.error;
  }
};

}  // namespace

const Analyzer& jar_analyzer() {
  static const JarAnalyzer a;
  return a;
}

}  // namespace bw::detail
