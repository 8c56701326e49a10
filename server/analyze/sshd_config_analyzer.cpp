// sshd_config and sshd_config.d/*.conf: the settings that open an SSH server to root or
// password logins. sshd takes the first value it reads for a keyword; Debian's sshd_config
// includes sshd_config.d first, so merging (image_summary) lets those files win.
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

#include <sstream>

namespace bw::detail {
namespace {

constexpr std::string_view kKeywords[] = {"permitrootlogin", "passwordauthentication",
                                          "permitemptypasswords"};

class SshdConfigAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "sshd-config"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    bool config = e.path == "etc/ssh/sshd_config" ||
                  (e.path.starts_with("etc/ssh/sshd_config.d/") && e.path.ends_with(".conf"));
    return e.kind == 'f' && config ? o.max_file_read_bytes : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    std::map<std::string, std::string> settings;
    std::istringstream in{std::string(head)};
    for (std::string line; std::getline(in, line);) {
      std::string t = trim(line);
      // A Match block applies to some connections only; what follows it is not global.
      if (t.empty() || t[0] == '#') continue;
      auto sep = t.find_first_of(" \t=");
      if (sep == std::string::npos) continue;
      std::string key = to_lower(t.substr(0, sep));
      if (key == "match") break;
      std::string value = to_lower(trim(t.substr(sep + 1), " \t=\"'"));
      for (auto k : kKeywords)
        if (key == k) settings.emplace(key, value);  // the first value wins
    }
    out.sshd_config = std::move(settings);
  }
};

}  // namespace

const Analyzer& sshd_config_analyzer() {
  static const SshdConfigAnalyzer a;
  return a;
}

}  // namespace bw::detail
