// Scripts: the interpreter a `#!` line names and the programs the script runs by absolute path,
// so that advice knows what an entrypoint script needs of its base (a shell, python3, sshd).
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "common/text.h"

#include <algorithm>

namespace bw::detail {
namespace {

constexpr std::size_t kScriptHeadBytes = 16 << 10;
constexpr std::size_t kMaxCalls = 16;

bool program_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '+';
}

// "#!/usr/bin/env -S python3 -u" -> "python3"; "#!/bin/sh -e" -> "sh".
std::string interpreter_of(std::string_view line) {
  std::vector<std::string> words;
  for (auto& w : split(std::string(line.substr(2)), ' '))
    if (!w.empty() && w != "\t") words.push_back(w);
  if (words.empty()) return {};
  std::size_t i = 0;
  if (path_base_name(words[0]) == "env")
    for (i = 1; i < words.size() &&
                (words[i].starts_with("-") || words[i].find('=') != std::string::npos);)
      ++i;
  return i < words.size() ? std::string(path_base_name(words[i])) : std::string();
}

class ScriptAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "script"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions&) const override {
    bool candidate = (e.mode & 0111) || e.path.ends_with(".sh");
    return e.kind == 'f' && candidate && e.size >= 3 ? kScriptHeadBytes : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool, const AnalyzeOptions&,
               FileInfo& out) const override {
    if (out.elf || !head.starts_with("#!")) return;
    std::size_t eol = std::min(head.find('\n'), head.size());
    // The #! line names the interpreter, not a program the script runs.
    ScriptInfo s{interpreter_of(head.substr(0, eol)), programs_named_in(head.substr(eol))};
    if (!s.interpreter.empty()) out.script = std::move(s);
  }
};

}  // namespace

const Analyzer& script_analyzer() {
  static const ScriptAnalyzer a;
  return a;
}

}  // namespace bw::detail

namespace bw {

std::vector<std::string> programs_named_in(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view dir :
       {"/usr/local/sbin/", "/usr/local/bin/", "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}) {
    for (std::size_t at = text.find(dir);
         at != std::string_view::npos && out.size() < detail::kMaxCalls;
         at = text.find(dir, at + 1)) {
      // "/usr/bin/x" also contains "/bin/x": only a path that starts at a word boundary counts.
      if (at > 0 && (detail::program_char(text[at - 1]) || text[at - 1] == '/')) continue;
      std::size_t end = at + dir.size();
      while (end < text.size() && detail::program_char(text[end])) ++end;
      if (end == at + dir.size()) continue;
      std::string call(text.substr(at + 1, end - at - 1));
      if (std::find(out.begin(), out.end(), call) == out.end()) out.push_back(std::move(call));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace bw
