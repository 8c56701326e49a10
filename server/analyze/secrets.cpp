#include "analyze/secrets.h"

#include "common/embedded.h"
#include "common/text.h"

#include <re2/re2.h>

#include <algorithm>
#include <set>

namespace bw {

using nlohmann::json;

namespace {

RE2::Options byte_options() {
  // Latin-1: match bytes, so invalid UTF-8 in a file never stops a scan.
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

struct AllowRule {
  std::string id;
  std::unique_ptr<RE2> path;
  std::unique_ptr<RE2> regex;
};

struct Rule {
  std::string id, title, category, severity;
  std::unique_ptr<RE2> regex;
  int secret_group = 0;               // 0: the whole match
  std::vector<std::string> keywords;  // lower-cased
  std::unique_ptr<RE2> path;
  std::vector<AllowRule> allow;
  bool fallback = false;  // reported only where no other rule found a secret in the same span
};

Result<std::unique_ptr<RE2>> compile(const std::string& pattern, const std::string& what) {
  auto re = std::make_unique<RE2>(pattern, byte_options());
  if (!re->ok()) return make_error(Errc::bad_request, "secret rule " + what + ": " + re->error());
  return re;
}

Result<std::vector<AllowRule>> parse_allow(const json& list) {
  std::vector<AllowRule> out;
  if (!list.is_array()) return out;
  for (auto& a : list) {
    AllowRule r;
    r.id = a.value("ID", "");
    if (a.contains("Path") && a["Path"].is_string()) {
      auto p = compile(a["Path"], r.id);
      if (!p) return p.error();
      r.path = std::move(*p);
    }
    if (a.contains("Regex") && a["Regex"].is_string()) {
      auto p = compile(a["Regex"], r.id);
      if (!p) return p.error();
      r.regex = std::move(*p);
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool path_allowed(const std::vector<AllowRule>& rules, std::string_view path) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](auto& r) { return r.path && RE2::PartialMatch(path, *r.path); });
}

bool match_allowed(const std::vector<AllowRule>& rules, std::string_view match) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](auto& r) { return r.regex && RE2::PartialMatch(match, *r.regex); });
}

// The line holding the secret with the secret masked; long lines are cut around it.
// `mask_at` and `mask_len` receive where the masked run stands in the returned line.
std::string censored_line(std::string_view content, std::size_t start, std::size_t end,
                          std::size_t& mask_at, std::size_t& mask_len) {
  std::size_t line_start = 0;
  if (start > 0) {
    std::size_t nl = content.rfind('\n', start - 1);
    line_start = nl == std::string_view::npos ? 0 : nl + 1;
  }
  // The line where the secret starts; a multi-line secret (a key block) is cut at its end.
  std::size_t line_end = content.find('\n', start);
  if (line_end == std::string_view::npos) line_end = content.size();
  std::string line(content.substr(line_start, line_end - line_start));
  std::size_t s = start - line_start, e = std::min(end, line_end) - line_start;
  for (std::size_t i = s; i < e && i < line.size(); ++i)
    if (line[i] != '\n') line[i] = '*';
  constexpr std::size_t kMaxLine = 100, kBefore = 30, kAfter = 20;
  mask_at = std::min(s, line.size());
  mask_len = std::min(e, line.size()) - mask_at;
  if (line.size() > kMaxLine) {
    std::size_t from = s > kBefore ? s - kBefore : 0;
    std::size_t to = std::min(line.size(), e + kAfter);
    line = line.substr(from, to - from);
    mask_at -= from;
    mask_len = std::min(mask_len, line.size() - mask_at);
  }
  return line;
}

}  // namespace

struct SecretRules::Impl {
  std::vector<Rule> rules;
  std::vector<AllowRule> global_allow;
};

SecretRules::SecretRules() : impl_(std::make_unique<Impl>()) {}
SecretRules::~SecretRules() = default;
std::size_t SecretRules::size() const {
  return impl_->rules.size();
}

Result<std::shared_ptr<const SecretRules>> SecretRules::parse(
    std::string_view text, const std::vector<std::string>& disabled) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("rules"))
    return make_error(Errc::bad_request, "secret rules: not a rule catalog");
  std::shared_ptr<SecretRules> out(new SecretRules());
  try {
    for (auto& r : j["rules"]) {
      Rule rule;
      rule.id = r.at("ID").get<std::string>();
      rule.title = r.value("Title", rule.id);
      rule.category = r.value("Category", "");
      rule.fallback = r.value("Fallback", false);
      rule.severity = r.value("Severity", "UNKNOWN");
      auto re = compile(r.at("Regex").get<std::string>(), rule.id);
      if (!re) return re.error();
      rule.regex = std::move(*re);
      std::string group = r.value("SecretGroupName", "");
      if (!group.empty()) {
        auto& names = rule.regex->NamedCapturingGroups();
        if (auto it = names.find(group); it != names.end()) rule.secret_group = it->second;
      }
      if (r.contains("Keywords"))
        for (auto& k : r["Keywords"]) rule.keywords.push_back(to_lower(k.get<std::string>()));
      if (r.contains("Path") && r["Path"].is_string()) {
        auto p = compile(r["Path"], rule.id);
        if (!p) return p.error();
        rule.path = std::move(*p);
      }
      auto allow = parse_allow(r.value("AllowRules", json::array()));
      if (!allow) return allow.error();
      rule.allow = std::move(*allow);
      out->impl_->rules.push_back(std::move(rule));
    }
    json globals = j.contains("builtinAllowRules") ? j["builtinAllowRules"]
                                                   : j.value("allowRules", json::array());
    auto allow = parse_allow(globals);
    if (!allow) return allow.error();
    for (auto& a : *allow)
      if (std::find(disabled.begin(), disabled.end(), a.id) == disabled.end())
        out->impl_->global_allow.push_back(std::move(a));
  } catch (const json::exception& e) {
    return make_error(Errc::bad_request, std::string("secret rules: ") + e.what());
  }
  return std::shared_ptr<const SecretRules>(std::move(out));
}

std::shared_ptr<const SecretRules> SecretRules::builtin() {
  auto r = parse(schema_files::get("secret_rules.json"));
  if (!r) throw std::runtime_error("embedded secret_rules.json: " + r.error().message);
  return *r;
}

std::vector<SecretFinding> SecretRules::scan(std::string_view path, std::string_view raw) const {
  std::vector<SecretFinding> out;
  if (path_allowed(impl_->global_allow, path)) return out;
  std::string content;
  content.reserve(raw.size());
  for (char c : raw)
    if (c != '\r') content += c;
  const std::string lowered = to_lower(content);
  std::set<std::tuple<std::string, int, std::size_t>> seen;
  for (auto& rule : impl_->rules) {
    if (rule.path && !RE2::PartialMatch(path, *rule.path)) continue;
    if (path_allowed(rule.allow, path)) continue;
    if (!rule.keywords.empty() &&
        std::none_of(rule.keywords.begin(), rule.keywords.end(),
                     [&](auto& k) { return lowered.find(k) != std::string::npos; }))
      continue;
    int groups = rule.regex->NumberOfCapturingGroups();
    std::vector<re2::StringPiece> m(static_cast<std::size_t>(groups) + 1);
    std::size_t pos = 0;
    const re2::StringPiece text(content);
    while (pos <= content.size() &&
           rule.regex->Match(text, pos, content.size(), RE2::UNANCHORED, m.data(), groups + 1)) {
      std::size_t mstart = static_cast<std::size_t>(m[0].data() - content.data());
      std::size_t mend = mstart + m[0].size();
      pos = mend > mstart ? mend : mend + 1;
      re2::StringPiece secret = m[static_cast<std::size_t>(rule.secret_group)];
      if (secret.data() == nullptr) continue;
      std::size_t start = static_cast<std::size_t>(secret.data() - content.data());
      std::size_t end = start + secret.size();
      std::string_view whole(m[0].data(), m[0].size());
      if (match_allowed(impl_->global_allow, whole) || match_allowed(rule.allow, whole)) continue;
      SecretFinding f;
      f.rule_id = rule.id;
      f.title = rule.title;
      f.category = rule.category;
      f.severity = rule.severity;
      f.offset = start;
      f.length = end - start;
      f.start_line =
          1 + static_cast<int>(std::count(
                  content.begin(), content.begin() + static_cast<std::ptrdiff_t>(start), '\n'));
      f.end_line = f.start_line + static_cast<int>(std::count(
                                      content.begin() + static_cast<std::ptrdiff_t>(start),
                                      content.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
      f.match = censored_line(content, start, end, f.mask_at, f.mask_len);
      f.fallback_end = rule.fallback ? end : 0;
      if (seen.insert({f.rule_id, f.start_line, f.offset}).second) out.push_back(std::move(f));
    }
  }
  // A generic rule's finding that overlaps a specific rule's is the same secret: keep the latter.
  std::erase_if(out, [&](const SecretFinding& g) {
    if (g.fallback_end == 0) return false;
    return std::any_of(out.begin(), out.end(), [&](const SecretFinding& s) {
      return s.fallback_end == 0 && s.offset < g.fallback_end && g.offset < s.offset + s.length;
    });
  });
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) {
    return std::tie(a.rule_id, a.match) < std::tie(b.rule_id, b.match);
  });
  return out;
}

std::string masked_match(const SecretFinding& f) {
  // What is stored and served masks with a fixed width: '*' per byte would tell the length.
  std::string match = f.match;
  if (f.mask_at <= match.size())
    match.replace(f.mask_at, std::min(f.mask_len, match.size() - f.mask_at), kSecretMask);
  return match;
}

json to_json(const SecretFinding& f) {
  std::string match = masked_match(f);
  return json{{"rule_id", f.rule_id},   {"title", f.title},  {"category", f.category},
              {"severity", f.severity}, {"match", match},    {"start_line", f.start_line},
              {"end_line", f.end_line}, {"offset", f.offset}};
}

SecretFinding secret_finding_from_json(const json& j) {
  SecretFinding f;
  f.rule_id = j.value("rule_id", "");
  f.title = j.value("title", "");
  f.category = j.value("category", "");
  f.severity = j.value("severity", "");
  f.match = j.value("match", "");
  f.mask_at = std::string::npos;  // masked when stored
  f.start_line = j.value("start_line", 0);
  f.end_line = j.value("end_line", 0);
  f.offset = j.value("offset", std::size_t{0});
  return f;
}

}  // namespace bw
