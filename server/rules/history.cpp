#include "rules/history.h"

#include "common/text.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace bw {
namespace {

bool is_upper_word(std::string_view w) {
  return !w.empty() &&
         std::all_of(w.begin(), w.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

}  // namespace

std::vector<ShellCommand> split_shell(std::string_view s) {
  std::vector<ShellCommand> out;
  ShellCommand cur;
  std::string word;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) cur.argv.push_back(word);
    word.clear();
    in_word = false;
  };
  auto end_command = [&](bool pipe_next) {
    end_word();
    if (!cur.argv.empty()) out.push_back(std::move(cur));
    cur = ShellCommand{};
    cur.piped = pipe_next;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] == '\n') {  // line continuation
        ++i;
        continue;
      }
      word += s[++i];
      in_word = true;
    } else if (c == '\'' || c == '"') {
      char q = c;
      in_word = true;
      for (++i; i < s.size() && s[i] != q; ++i) {
        if (q == '"' && s[i] == '\\' && i + 1 < s.size()) ++i;
        word += s[i];
      }
    } else if (c == '$' && i + 1 < s.size() && s[i + 1] == '(') {
      // Command substitution: keep it in the word, balanced.
      int depth = 0;
      for (; i < s.size(); ++i) {
        word += s[i];
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) break;
      }
      in_word = true;
    } else if (c == '`') {
      word += c;
      for (++i; i < s.size() && s[i] != '`'; ++i) word += s[i];
      if (i < s.size()) word += '`';
      in_word = true;
    } else if (c == '&' && i + 1 < s.size() && s[i + 1] == '&') {
      end_command(false);
      ++i;
    } else if (c == '|' && i + 1 < s.size() && s[i + 1] == '|') {
      end_command(false);
      ++i;
    } else if (c == '|') {
      end_command(true);
    } else if (c == ';' || c == '\n' || c == '&') {
      end_command(false);
    } else if (c == ' ' || c == '\t' || c == '\r') {
      end_word();
    } else if (c == '#' && !in_word) {
      // A comment runs to the end of the line.
      while (i + 1 < s.size() && s[i + 1] != '\n') ++i;
    } else {
      word += c;
      in_word = true;
    }
  }
  end_command(false);
  return out;
}

HistoryStep parse_created_by(std::string_view cb) {
  HistoryStep step;
  step.created_by = std::string(cb);
  std::string t = trim(cb);
  if (t.ends_with("# buildkit")) {
    t = trim(std::string_view(t).substr(0, t.size() - 10));
  }
  // "RUN |2 A=1 B=2 /bin/sh -c cmd" (BuildKit) or "|2 A=1 B=2 /bin/sh -c cmd" (legacy)
  auto strip_args = [&](std::string& s) {
    s = trim(s);
    if (!s.starts_with("|")) return;
    std::size_t sp = s.find(' ');
    int n = 0;
    try {
      n = std::stoi(s.substr(1, sp - 1));
    } catch (...) {
      return;
    }
    std::size_t pos = sp;
    for (int k = 0; k < n && pos != std::string::npos; ++k) {
      std::size_t start = s.find_first_not_of(' ', pos);
      if (start == std::string::npos) break;
      std::size_t end = s.find(' ', start);
      step.build_args.push_back(
          s.substr(start, end == std::string::npos ? std::string::npos : end - start));
      pos = end;
    }
    s = pos == std::string::npos ? std::string() : trim(s.substr(pos));
  };
  std::string word = t.substr(0, t.find(' '));
  if (is_upper_word(word) && word != "RUN") {
    step.instruction = word;
    step.text = trim(t.substr(word.size()));
  } else {
    if (word == "RUN") t = trim(t.substr(3));
    strip_args(t);
    for (std::string shell : {"/bin/sh -c ", "/bin/bash -c ", "/bin/sh -o pipefail -c ",
                              "/bin/bash -o pipefail -c ", "/bin/ash -c ", "cmd /S /C "}) {
      if (t.starts_with(shell)) {
        t = trim(t.substr(shell.size()));
        break;
      }
    }
    if (t.starts_with("#(nop)")) {
      t = trim(t.substr(6));
      std::string w = t.substr(0, t.find(' '));
      step.instruction = is_upper_word(w) ? w : "NOP";
      step.text = is_upper_word(w) ? trim(t.substr(w.size())) : t;
    } else {
      step.instruction = "RUN";
      step.text = t;
    }
  }
  if (step.instruction == "RUN") step.commands = split_shell(step.text);
  return step;
}

std::vector<HistoryStep> parse_history(const nlohmann::json& config) {
  std::vector<HistoryStep> out;
  auto h = config.find("history");
  if (h == config.end() || !h->is_array()) return out;
  int layer = 0;
  for (std::size_t i = 0; i < h->size(); ++i) {
    const auto& e = (*h)[i];
    if (!e.is_object()) continue;
    HistoryStep step = parse_created_by(e.value("created_by", ""));
    step.index = static_cast<int>(i);
    step.empty_layer = e.value("empty_layer", false);
    step.layer_index = step.empty_layer ? -1 : layer++;
    out.push_back(std::move(step));
  }
  return out;
}

bool is_secret_name(std::string_view name) {
  static const RE2 kSensitive("(?i)PASS|PASSWD|PASSWORD|SECRET|KEY|ACCESS|TOKEN");
  if (name.empty() || name == "GPG_KEY" || name == "GPG_KEYS") return false;
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
    return false;
  return RE2::PartialMatch(name, kSensitive);
}

std::vector<InlineSecret> find_inline_secrets(std::string_view text) {
  struct Pattern {
    const char* kind;
    RE2 re;  // the value is the last capturing group
  };
  // A value: up to a quote, blank or shell separator.
  static const std::string kValue = "([^\\s'\";&|]+)";
  static const Pattern kPatterns[] = {
      {"password piped to chpasswd", RE2("echo\\s+(?:-[a-z]+\\s+)*['\"]?[A-Za-z0-9_.-]+:([^\\s'\"|]"
                                         "+)['\"]?\\s*\\|\\s*(?:sudo\\s+)?"
                                         "chpasswd")},
      {"password piped to passwd --stdin", RE2("echo\\s+(?:-[a-z]+\\s+)*['\"]?([^\\s'\"|]+)['\"]?"
                                               "\\s*\\|\\s*(?:sudo\\s+)?passwd\\s+--stdin")},
      {"htpasswd -b password", RE2("htpasswd\\s+(?:-[A-Za-z]+\\s+)*-[A-Za-z]*b[A-Za-z]*\\s+(?:-[A-"
                                   "Za-z]+\\s+)*\\S+\\s+\\S+\\s+['\"]?" +
                                   kValue)},
      {"password option",
       RE2("(?i)--(?:http-|ftp-|proxy-)?(?:password|passwd|token|api-key|secret)(?:=|\\s+)['\"]?" +
           kValue)},
      {"MySQL -p password",
       RE2("\\b(?:mysql|mysqladmin|mysqldump|mariadb)\\b[^;&|]*?\\s-p([^\\s'\";&|]+)")},
      {"credentials in a URL", RE2("[A-Za-z][A-Za-z0-9+.-]*://[^/\\s:@'\"]+:([^/\\s@'\"]+)@")},
      {"Authorization header",
       RE2("(?i)Authorization:\\s*(?:Bearer\\s+|Basic\\s+|Token\\s+)?([^'\"\\s]+)")},
      {"curl/wget -u user:password", RE2("\\b(?:curl|wget)\\b[^;&|]*?\\s(?:-u|--user)(?:\\s+|=)['"
                                         "\"]?[^:\\s'\"]+:([^\\s'\";&|]+)")},
  };
  std::vector<InlineSecret> out;
  for (auto& p : kPatterns) {
    re2::StringPiece input(text.data(), text.size()), value;
    int groups = p.re.NumberOfCapturingGroups();
    std::vector<re2::StringPiece> caps(static_cast<std::size_t>(groups));
    std::vector<RE2::Arg> args(caps.size());
    std::vector<const RE2::Arg*> argp(caps.size());
    for (std::size_t i = 0; i < caps.size(); ++i) {
      args[i] = &caps[i];
      argp[i] = &args[i];
    }
    while (RE2::FindAndConsumeN(&input, p.re, argp.data(), groups)) {
      value = caps.back();
      if (value.empty() || value[0] == '$' || value[0] == '-') continue;
      out.push_back({p.kind, static_cast<std::size_t>(value.data() - text.data()), value.size()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const InlineSecret& a, const InlineSecret& b) { return a.offset < b.offset; });
  // Two patterns may find the same value (a URL on a curl -u line): keep the first.
  std::vector<InlineSecret> distinct;
  for (auto& x : out)
    if (distinct.empty() || x.offset >= distinct.back().offset + distinct.back().length)
      distinct.push_back(std::move(x));
  return distinct;
}

std::string mask_secret_assignments(std::string_view text) {
  static const RE2 kAssign(
      "(?i)((?:[A-Za-z0-9_]*)(?:PASS|PASSWD|PASSWORD|SECRET|KEY|ACCESS|TOKEN)[A-Za-z0-9_]*=)(\"[^"
      "\"]*\"|'[^']*'|[^\\s\"']+)");
  // Inline secrets first, from the end, so that earlier offsets stay valid.
  std::string out(text);
  auto inline_secrets = find_inline_secrets(out);
  for (auto it = inline_secrets.rbegin(); it != inline_secrets.rend(); ++it)
    if (out.compare(it->offset, it->length, kSecretMask) != 0)
      out.replace(it->offset, it->length, kSecretMask);
  RE2::GlobalReplace(&out, kAssign, "\\1" + std::string(kSecretMask));
  return out;
}

bool is_secret_label(std::string_view key) {
  std::string name(key);
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return is_secret_name(name);
}

bool is_secret_option(std::string_view arg) {
  static const RE2 kOption(
      "(?i)--?(?:[a-z]+-)*(?:password|passwd|pass|token|secret|api-?key|access-?key|secret-?key|"
      "credentials?|auth)");
  return RE2::FullMatch(arg.substr(0, arg.find('=')), kOption);
}

nlohmann::json mask_config_secrets(nlohmann::json config) {
  if (!config.is_object()) return config;
  const std::string mask(kSecretMask);
  for (const char* section : {"config", "container_config"}) {
    auto c = config.find(section);
    if (c == config.end() || !c->is_object()) continue;
    if (auto env = c->find("Env"); env != c->end() && env->is_array())
      for (auto& e : *env) {
        if (!e.is_string()) continue;
        std::string kv = e.get<std::string>();
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq + 1 >= kv.size()) continue;
        // A secret-looking name hides its value; any other value keeps its shape with the
        // secrets inside it (a URL's password) masked.
        e = kv.substr(0, eq + 1) + (is_secret_name(std::string_view(kv).substr(0, eq))
                                        ? mask
                                        : mask_secret_assignments(kv.substr(eq + 1)));
      }
    if (auto labels = c->find("Labels"); labels != c->end() && labels->is_object())
      for (auto& [key, value] : labels->items())
        if (value.is_string() && !value.get_ref<const std::string&>().empty())
          value = is_secret_label(key) ? mask : mask_secret_assignments(value.get<std::string>());
    // Command lines: the value of --password and the like, and secrets inside any argument.
    auto mask_args = [&](nlohmann::json& args) {
      if (!args.is_array()) return;
      bool next_is_secret = false;
      for (auto& a : args) {
        if (!a.is_string()) continue;
        std::string arg = a.get<std::string>();
        if (next_is_secret) {
          next_is_secret = false;
          if (!arg.starts_with("-")) {
            a = mask;
            continue;
          }
        }
        if (is_secret_option(arg)) {
          if (auto eq = arg.find('='); eq != std::string::npos)
            a = arg.substr(0, eq + 1) + mask;
          else
            next_is_secret = true;
          continue;
        }
        a = mask_secret_assignments(arg);
      }
    };
    for (const char* key : {"Cmd", "Entrypoint"})
      if (auto args = c->find(key); args != c->end()) mask_args(*args);
    if (auto hc = c->find("Healthcheck"); hc != c->end() && hc->is_object())
      if (auto test = hc->find("Test"); test != hc->end()) mask_args(*test);
  }
  if (auto h = config.find("history"); h != config.end() && h->is_array())
    for (auto& step : *h)
      if (step.is_object())
        if (auto cb = step.find("created_by"); cb != step.end() && cb->is_string())
          *cb = mask_secret_assignments(cb->get<std::string>());
  return config;
}

}  // namespace bw
