// Ruby gems: the specifications RubyGems writes for each installed gem (gem install, Bundler,
// Debian's rubygems-integration), in Ruby, one attribute a line:
//   s.name = "rack".freeze
//   s.version = "2.2.22"
//   s.licenses = ["MIT".freeze]
// They are read as those lines, never run.
#include "analyze/app_packages.h"

#include <cctype>

namespace bw {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// What `IDENT.field = …` assigns on `line`, unparsed; nullopt when the line assigns something
// else.
std::optional<std::string_view> assignment(std::string_view line, std::string_view field) {
  line = trimmed(line);
  std::size_t dot = 0;
  while (dot < line.size() &&
         (std::isalnum(static_cast<unsigned char>(line[dot])) || line[dot] == '_'))
    ++dot;
  if (dot == 0 || dot >= line.size() || line[dot] != '.') return std::nullopt;
  line.remove_prefix(dot + 1);
  if (!line.starts_with(field)) return std::nullopt;
  line = trimmed(line.substr(field.size()));
  if (!line.starts_with('=') || line.starts_with("==")) return std::nullopt;
  return trimmed(line.substr(1));
}

// The double- or single-quoted strings of `value`, in order (escapes kept as written: names,
// versions and license ids have none).
std::vector<std::string> quoted(std::string_view value) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char q = value[i];
    if (q != '"' && q != '\'') continue;
    std::size_t end = value.find(q, i + 1);
    if (end == std::string_view::npos) break;
    out.emplace_back(value.substr(i + 1, end - i - 1));
    i = end;
  }
  return out;
}

}  // namespace

bool is_gemspec_path(std::string_view path) {
  return path.ends_with(".gemspec") && (path.find("/specifications/") != std::string_view::npos ||
                                        path.starts_with("specifications/"));
}

std::optional<AppPackage> parse_gemspec(std::string_view text) {
  AppPackage p;
  p.ecosystem = "gem";
  std::vector<std::string> licenses;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto first = [&](std::string_view field) -> std::optional<std::string> {
      auto v = assignment(line, field);
      if (!v) return std::nullopt;
      auto q = quoted(*v);
      return q.empty() ? std::nullopt : std::optional(q.front());
    };
    if (auto v = first("name"); v && p.name.empty()) p.name = *v;
    if (auto v = first("version"); v && p.version.empty()) p.version = *v;
    if (auto v = first("license"); v && licenses.empty()) licenses.push_back(*v);
    if (auto v = assignment(line, "licenses"); v && licenses.empty()) licenses = quoted(*v);
  }
  if (p.name.empty() || p.version.empty()) return std::nullopt;
  // RubyGems' "licenses": the gem is offered under any of them.
  for (auto& l : licenses) p.license += (p.license.empty() ? "" : " OR ") + l;
  return p;
}

}  // namespace bw
