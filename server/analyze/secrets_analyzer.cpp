// Secrets in text files, with the configured rules (RE2); values stored masked.
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

namespace bw::detail {
namespace {

// Text worth scanning for secrets: not where the secret rules' allow lists look away anyway.
bool secret_candidate(std::string_view p) {
  for (auto prefix : {"usr/share/", "usr/include/", "usr/lib/", "lib/", "usr/libexec/", "proc/",
                      "sys/", "var/lib/dpkg/", "var/lib/apt/", "var/cache/", "usr/local/go/"})
    if (p.starts_with(prefix)) return false;
  std::string_view base = path_base_name(p);
  for (auto ext :
       {".so", ".a", ".o", ".png", ".jpg", ".gif", ".gz", ".zip", ".jar", ".pyc", ".whl", ".mo"})
    if (base.ends_with(ext)) return false;
  return base.find(".so.") == std::string_view::npos;
}

bool looks_binary(std::string_view s) {
  return s.substr(0, 8000).find('\0') != std::string_view::npos;
}

class SecretsAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "secrets"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    bool fits = e.size >= 10 && e.size <= o.max_file_read_bytes;
    return e.kind == 'f' && o.secrets && fits && secret_candidate(e.path) ? o.max_file_read_bytes
                                                                          : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool truncated, const AnalyzeOptions& o,
               FileInfo& out) const override {
    // An executable the elf analyser recognised is no text to scan.
    if (out.elf || truncated || head.size() < 10 || looks_binary(head)) return;
    out.secrets = o.secrets->scan(e.path, head);
  }
};

}  // namespace

const Analyzer& secrets_analyzer() {
  static const SecretsAnalyzer a;
  return a;
}

}  // namespace bw::detail
