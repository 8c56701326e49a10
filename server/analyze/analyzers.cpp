#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"

#include <algorithm>

namespace bw {

const std::vector<const Analyzer*>& builtin_analyzers() {
  // Order matters where one reads another's result (secrets skip what elf recognised).
  static const std::vector<const Analyzer*> all = {
      &detail::os_release_analyzer(), &detail::packages_analyzer(),
      &detail::accounts_analyzer(),   &detail::elf_analyzer(),
      &detail::script_analyzer(),     &detail::sshd_config_analyzer(),
      &detail::secrets_analyzer(),    &detail::npm_analyzer(),
      &detail::python_analyzer(),     &detail::jar_analyzer(),
      &detail::gem_analyzer(),        &detail::composer_analyzer(),
      &detail::runtime_analyzer(),    &detail::cargo_auditable_analyzer(),
  };
  return all;
}

const std::vector<const Analyzer*>& analyzers_in_use(const AnalyzeOptions& o) {
  return o.analyzers.empty() ? builtin_analyzers() : o.analyzers;
}

std::map<std::string, int> analyzer_versions(const AnalyzeOptions& o) {
  std::map<std::string, int> out;
  for (auto* a : analyzers_in_use(o)) out[std::string(a->name())] = a->version();
  return out;
}

std::size_t content_wanted(std::string_view path, char kind, std::uint32_t mode, std::uint64_t size,
                           const AnalyzeOptions& o) {
  EntryView e{path, kind, mode, size};
  std::size_t want = 0;
  for (auto* a : analyzers_in_use(o)) want = std::max(want, a->wants(e, o));
  return want;
}

FileInfo analyze_content(std::string_view path, std::uint32_t mode, std::string_view head,
                         bool truncated, const AnalyzeOptions& o) {
  return analyze_entry(EntryView{path, 'f', mode, head.size() + (truncated ? 1 : 0)}, head,
                       truncated, o);
}

FileInfo analyze_entry(const EntryView& e, std::string_view head, bool truncated,
                       const AnalyzeOptions& o, const ReadLater* later) {
  FileInfo out;
  struct Asked {
    LaterRange range;
    const Analyzer* analyzer;
    std::string_view head;  // the bytes it was given first
  };
  std::vector<Asked> asked;
  for (auto* a : analyzers_in_use(o)) {
    std::size_t want = a->wants(e, o);
    if (want == 0) continue;
    // Each sees the bytes it asked for; more of them existed if the read went past its cap.
    bool cut = truncated || head.size() > want;
    std::string_view mine = head.substr(0, want);
    a->analyze(e, mine, cut, o, out);
    if (!later || !cut) continue;
    if (auto r = a->wants_later(e, mine, out, o); r && r->length > 0)
      asked.push_back(Asked{*r, a, mine});
  }
  // The stream reads forward only: serve the requests in the order of their offsets.
  std::stable_sort(asked.begin(), asked.end(),
                   [](auto& x, auto& y) { return x.range.offset < y.range.offset; });
  for (auto& [range, a, first] : asked) {
    std::string bytes = (*later)(range);
    if (!bytes.empty()) a->analyze_later(e, first, range.offset, bytes, o, out);
  }
  return out;
}

}  // namespace bw
