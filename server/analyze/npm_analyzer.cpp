// npm: installed packages (node_modules/**/package.json) and the app's word on which of them
// are dev dependencies (its package.json and lockfiles).
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

namespace bw::detail {
namespace {

bool is_lockfile(std::string_view path) {
  std::string_view base = path_base_name(path);
  return base == "package-lock.json" || path.ends_with("node_modules/.package-lock.json");
}

class NpmAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "npm"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    if (e.kind != 'f') return 0;
    if (is_lockfile(e.path)) return o.max_package_db_bytes;
    return path_base_name(e.path) == "package.json" ? o.max_file_read_bytes : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool truncated, const AnalyzeOptions&,
               FileInfo& out) const override {
    if (truncated) return;  // a cut JSON document says nothing reliable
    if (is_lockfile(e.path)) {
      out.npm_lock_dev = npm_lock_dev_paths(head);
    } else if (is_npm_installed_manifest(e.path)) {
      if (auto p = parse_npm_package(head)) out.app_packages.push_back(std::move(*p));
    } else if (auto dev = npm_dev_dependencies(head); !dev.empty()) {
      out.npm_dev_dependencies = std::move(dev);
    }
  }
};

}  // namespace

const Analyzer& npm_analyzer() {
  static const NpmAnalyzer a;
  return a;
}

}  // namespace bw::detail
