// PHP: the packages Composer installed, from vendor/composer/installed.json.
#include "analyze/analyze.h"
#include "analyze/app_packages.h"
#include "analyze/detail/builtin.h"

namespace bw::detail {
namespace {

class ComposerAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "composer"; }
  int version() const override { return 1; }
  // The whole list, up to the text-file limit: a list cut short is not JSON, and lists nothing.
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && is_composer_installed_path(e.path) ? o.max_file_read_bytes : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    for (auto& p : parse_composer_installed(head)) out.app_packages.push_back(std::move(p));
  }
};

}  // namespace

const Analyzer& composer_analyzer() {
  static const ComposerAnalyzer a;
  return a;
}

}  // namespace bw::detail
