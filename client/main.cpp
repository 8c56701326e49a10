// bulwark: the CLI that CI pipelines call. Talks to bulwarkd over its REST API.
//
// Exit codes: 0 scan done (and passed its policy); 1 the image fails --fail-under/--fail-on;
// 2 usage or request refused; 3 scan failed or cancelled; 4 server unreachable or timed out.
#include "analyze/analyze.h"
#include "api_client.h"
#include "formats.h"
#include "ignore_file.h"
#include "local_scan.h"
#include "oci_layout.h"
#include "options.h"
#include "rules/history.h"
#include "rules/rules.h"
#include "score/policy.h"

#include <nlohmann/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

using bw::cli::ApiClient;
using bw::cli::Command;
using bw::cli::Scanned;
using bw::cli::to_cyclonedx;
using bw::cli::to_junit;
using bw::cli::to_markdown;
using bw::cli::to_sarif;
using bw::cli::usage;
using nlohmann::json;

constexpr int kExitPolicy = 1;
constexpr int kExitUsage = 2;
constexpr int kExitScanFailed = 3;
constexpr int kExitUnavailable = 4;
constexpr std::string_view kCliVersion = "0.1.0";

// A usage error: one clear line on stderr, exit 2.
int usage_error(const std::string& what) {
  std::cerr << "bulwark: " << what << " (see bulwark --help)\n";
  return kExitUsage;
}

void print_api_error(const bw::cli::Reply& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error"))
    std::cerr << "bulwark: " << j["error"].value("code", "error") << ": "
              << j["error"].value("message", "") << "\n";
  else
    std::cerr << "bulwark: HTTP " << r.status << "\n";
}

void print_scan(const json& s, std::ostream& out) {
  out << "scan      " << s.value("id", "") << "\n"
      << "image     " << s.value("image", "") << " (" << s.value("platform", "") << ")\n"
      << "status    " << s.value("status", "") << "\n";
  if (s.contains("manifest_digest"))
    out << "digest    " << s["manifest_digest"].get<std::string>() << "\n";
  if (s.contains("progress") && s["progress"].contains("layers")) {
    for (auto& l : s["progress"]["layers"])
      out << "  layer " << l.value("digest", "").substr(0, 19) << "  " << l.value("state", "")
          << "  " << l.value("bytes_done", 0) << "/" << l.value("bytes_total", 0) << " bytes\n";
  }
  if (s.contains("error"))
    out << "error     " << s["error"].value("code", "") << ": " << s["error"].value("message", "")
        << "\n";
  if (s.contains("score"))
    out << "score     " << s["score"].get<int>() << " (" << s["grade"].get<std::string>() << ")  "
        << s.value("report", "") << "\n";
  if (s.contains("verdict")) {
    out << "verdict   " << s["verdict"].get<std::string>() << "\n";
    for (auto& r : s["reasons"]) out << "  " << r.get<std::string>() << "\n";
  }
}

// The report's live findings, one a line, and the top recommendation.
// The scan's report as the API serves it; null when there is none.
json fetch_report(const ApiClient& api, const json& scan) {
  if (!scan.contains("report")) return json();
  auto r = api.call("GET", scan["report"].get<std::string>());
  if (!r || r->status != 200) return json();
  json report = json::parse(r->body, nullptr, false);
  return report.is_object() ? report : json();
}

// How the table looks: colour only on a terminal, and never with NO_COLOR or --no-color;
// --verbose lists every file of a folded finding.
struct Style {
  bool color = false;
  bool verbose = false;
  std::string paint(const std::string& text, const char* code) const {
    return color ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
  // `label` is the severity's column, already padded.
  std::string severity_label(const std::string& sev, const std::string& label) const {
    const char* code = sev == "critical" ? "1;31"
                       : sev == "high"   ? "31"
                       : sev == "medium" ? "33"
                                         : "36";
    return paint(label, code);
  }
};

int severity_rank(const std::string& s) {
  static const std::vector<std::string> order = {"info", "low", "medium", "high", "critical"};
  auto it = std::find(order.begin(), order.end(), s);
  return it == order.end() ? 0 : static_cast<int>(it - order.begin());
}

// The table's width: $COLUMNS, else the terminal's, else 120 (a CI log).
std::size_t table_width(bool to_terminal) {
  if (const char* c = std::getenv("COLUMNS"); c && *c) {
    char* end = nullptr;
    long n = std::strtol(c, &end, 10);
    if (*end == '\0' && n >= 40 && n <= 1000) return static_cast<std::size_t>(n);
  }
  winsize ws{};
  if (to_terminal && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
    return ws.ws_col;
  return 120;
}

// Where a finding is, for a person: its path, the build step's command, or the config key.
std::string finding_at(const json& f, std::size_t max) {
  const json& ev = f.value("evidence", json::object());
  if (std::string path = ev.value("path", ""); !path.empty()) return "/" + path;
  if (ev.contains("created_by")) return bw::cli::build_step(ev.value("created_by", ""), max);
  if (ev.contains("history_index")) return "build step " + ev["history_index"].dump();
  return ev.value("config_key", "");
}

// Findings worst first, then by category and rule; one line per rule (severity, rule id,
// title, category and origin, in columns that a long value shortens but never runs into), then
// where it is (several files of one rule folded into a count unless --verbose; a build step's
// command), the evidence and the fix. Suppressed findings follow, not counted.
void print_findings(const json& report, const json& rules, const Style& st, std::size_t width,
                    std::ostream& out) {
  if (!report.is_object()) return;
  using bw::cli::shorten;
  const json rule_list = rules.value("rules", json::array());  // `catalog` points into it
  std::map<std::string, const json*> catalog;
  for (auto& r : rule_list) catalog[r.value("id", "")] = &r;
  out << "base      " << report["base"].value("name", "") << " ("
      << report["base"].value("method", "") << ")\n";
  std::map<std::string, std::vector<const json*>> by_rule;  // rule id -> live findings
  std::vector<const json*> suppressed;
  const json& findings = report["findings"];
  for (auto& f : findings)
    (f.value("suppressed", false) ? suppressed : by_rule[f.value("rule_id", "")]).push_back(&f);
  std::map<std::string, int> counts;
  for (auto& [id, fs] : by_rule) ++counts[fs.front()->value("severity", "")];
  out << "findings  ";
  bool first = true;
  for (const char* sev : {"critical", "high", "medium", "low", "info"})
    if (counts[sev]) {
      out << (first ? "" : ", ") << counts[sev] << " " << sev;
      first = false;
    }
  out << (first ? "none" : "");
  if (!suppressed.empty()) out << " (" << suppressed.size() << " suppressed, not counted)";
  out << "\n";
  std::vector<std::string> ids;
  std::size_t id_width = 4;
  for (auto& [id, fs] : by_rule) {
    ids.push_back(id);
    id_width = std::max(id_width, id.size());
  }
  std::stable_sort(ids.begin(), ids.end(), [&](auto& a, auto& b) {
    const json &fa = *by_rule[a].front(), &fb = *by_rule[b].front();
    int ra = severity_rank(fa.value("severity", "")), rb = severity_rank(fb.value("severity", ""));
    if (ra != rb) return ra > rb;
    return fa.value("category", "") < fb.value("category", "");
  });
  // "  SEVERITY  RULE-ID…  title  [category, origin]": fixed columns, two spaces between.
  const std::size_t indent = 2 + 8 + 2, title_at = indent + id_width + 2;
  const std::size_t room = width > title_at + 10 ? width - title_at : 10;
  const std::size_t detail_room = width > indent + 10 ? width - indent : 10;
  if (!ids.empty()) {
    out << "\n  " << std::left << std::setw(10) << "SEVERITY" << std::setw(id_width + 2) << "RULE"
        << "FINDING\n";
  }
  for (auto& id : ids) {
    const auto& fs = by_rule[id];
    const json& f = *fs.front();
    std::string tail = "  [" + f.value("category", "") + ", " + f.value("origin", "") + "]";
    std::string title = f.value("title", "");
    std::size_t tail_len = tail.size();
    if (tail_len + 10 > room) tail.clear(), tail_len = 0;
    std::string sev = f.value("severity", "");
    std::string label = sev;
    for (auto& ch : label) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    label.resize(10, ' ');
    out << "  " << st.severity_label(sev, label) << id << std::string(id_width + 2 - id.size(), ' ')
        << shorten(title, room - tail_len) << tail << "\n";
    std::size_t shown = st.verbose ? fs.size() : std::min<std::size_t>(fs.size(), 3);
    for (std::size_t k = 0; k < shown; ++k) {
      std::string at = finding_at(*fs[k], detail_room);
      const json& ev = fs[k]->value("evidence", json::object());
      std::string detail = ev.value("detail", "");
      std::string line = at + (detail.empty() || at.empty() ? "" : ": ") + detail;
      if (std::string exp = fs[k]->value("suppression_expired", ""); !exp.empty())
        line += " (its suppression expired " + exp + ")";
      out << std::string(indent, ' ') << shorten(line, detail_room) << "\n";
    }
    if (shown < fs.size())
      out << std::string(indent, ' ') << "… and " << fs.size() - shown
          << " more (--verbose lists them)\n";
    if (auto it = catalog.find(id); it != catalog.end())
      out << std::string(indent, ' ') << st.paint("fix:", "32") << " "
          << shorten(it->second->value("remediation", ""), detail_room - 5) << "\n";
  }
  if (!suppressed.empty()) {
    out << "\nsuppressed (not counted)\n";
    std::size_t shown =
        st.verbose ? suppressed.size() : std::min<std::size_t>(suppressed.size(), 10);
    for (std::size_t k = 0; k < shown; ++k) {
      const json& f = *suppressed[k];
      std::string by = f.value("suppressed_by", "");
      std::string line = f.value("rule_id", "") + "  " + finding_at(f, detail_room) + "  " +
                         f.value("suppression_reason", "") + (by.empty() ? "" : " (" + by + ")");
      out << "  " << shorten(line, width > 4 ? width - 2 : 2) << "\n";
    }
    if (shown < suppressed.size())
      out << "  … and " << suppressed.size() - shown << " more (--verbose lists them)\n";
  }
  const json& recs = report["recommendations"];
  if (!recs.empty()) {
    out << "\nadvice\n";
    for (std::size_t i = 0; i < recs.size() && i < 6; ++i)
      out << "  " << bw::cli::advice_line(recs[i]) << "\n";
    if (std::string plan = bw::cli::plan_line(report); !plan.empty())
      out << "  plan: " << plan << "\n";
    // The best switch's Dockerfile, ready to paste.
    for (auto& a : recs)
      if (a.value("action", "") == "switch" && !a.value("dockerfile", "").empty()) {
        std::istringstream lines(a["dockerfile"].get<std::string>());
        for (std::string l; std::getline(lines, l);) out << "    " << l << "\n";
        break;
      }
  }
}

int exit_for(const json& scan) {
  std::string status = scan.value("status", "");
  if (status == "done") return scan.value("verdict", "pass") == "fail" ? kExitPolicy : 0;
  if (status == "failed" || status == "cancelled") return kExitScanFailed;
  return kExitUnavailable;  // still running when we gave up
}

// One platform's scan and what the formats need of it.
struct Platform {
  json scan, report;            // the report is null when the scan failed
  std::function<json()> image;  // the image record, fetched when the SBOM needs it
};

// A scan's results: the scan asked for (with --platform all, the parent) and its platforms (the
// one, or every child of an "all" scan).
struct Results {
  json scan;
  std::vector<Platform> platforms;
  std::function<json()> rules;
  bool multi() const { return scan.value("platform", "") == "all"; }
};

// "sbom.cdx.json" for linux/arm64 -> "sbom-linux-arm64.cdx.json".
std::string per_platform_path(const std::string& path, const std::string& platform) {
  std::string tag = platform;
  std::replace(tag.begin(), tag.end(), '/', '-');
  std::size_t name = path.rfind('/');
  name = name == std::string::npos ? 0 : name + 1;
  std::size_t dot = path.find('.', name + 1);
  if (dot == std::string::npos) return path + "-" + tag;
  return path.substr(0, dot) + "-" + tag + path.substr(dot);
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  if (!file) std::cerr << "bulwark: cannot write " << path << "\n";
  return static_cast<bool>(file);
}

// Writes the scan in every format asked for. With --platform all each format holds every
// platform: SARIF one run each, JSON an array of reports, JUnit a suite each, Markdown and the
// table a section each, CycloneDX one BOM each (FILE-OS-ARCH.ext, or one line each on stdout).
int write_outputs(const Command& c, Results& res) {
  if (c.outputs.empty() && c.json) {
    json out = res.scan;
    if (res.multi()) {
      out["platforms"] = json::array();
      for (auto& p : res.platforms) out["platforms"].push_back(p.scan);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  json rules;
  auto get_rules = [&]() -> const json& {
    if (rules.is_null()) rules = res.rules();
    if (!rules.is_object()) rules = json::object();
    return rules;
  };
  std::vector<Scanned> items;
  for (auto& p : res.platforms)
    if (p.report.is_object()) items.push_back({p.scan, p.report});
  auto outputs = c.outputs;
  if (outputs.empty() && !c.quiet) outputs.emplace_back("table", "");
  for (auto& [format, path] : outputs) {
    std::ostringstream text;
    if (format == "table") {
      // Colour only for a person at a terminal: never in files, pipes, or with NO_COLOR.
      const char* no_color = std::getenv("NO_COLOR");
      bool terminal = path.empty() && isatty(STDOUT_FILENO);
      Style st{terminal && !c.no_color && !(no_color && *no_color), c.verbose};
      std::size_t width = table_width(terminal);
      print_scan(res.scan, text);
      for (auto& p : res.platforms) {
        if (res.multi()) {
          text << "\n" << st.paint("== " + p.scan.value("platform", "") + " ==", "1") << "\n";
          print_scan(p.scan, text);
        }
        if (p.report.is_object()) print_findings(p.report, get_rules(), st, width, text);
      }
    } else if (items.empty()) {
      std::cerr << "bulwark: no report to write as " << format << " (scan "
                << res.scan.value("status", "") << ")\n";
      continue;
    } else if (format == "json") {
      if (!res.multi()) {
        text << items[0].report.dump(2) << "\n";
      } else {
        json all = json::array();
        for (auto& i : items) {
          json r = i.report;
          r["platform"] = i.scan.value("platform", "");
          all.push_back(std::move(r));
        }
        text << all.dump(2) << "\n";
      }
    } else if (format == "markdown") {
      if (res.multi())
        text << "## Bulwark: `" << res.scan.value("image", "") << "`, " << items.size()
             << " platforms"
             << (res.scan.contains("verdict") ? ", policy **" + res.scan.value("verdict", "") + "**"
                                              : std::string())
             << "\n\n";
      for (auto& i : items) {
        if (res.multi()) text << "#### " << i.scan.value("platform", "") << "\n\n";
        text << to_markdown(i.report, i.scan);
      }
    } else if (format == "cyclonedx") {
      for (auto& p : res.platforms) {
        if (!p.report.is_object()) continue;
        json image = p.image();
        if (!image.is_object()) {
          std::cerr << "bulwark: the image record is not available for the SBOM\n";
          return kExitUnavailable;
        }
        std::string bom = to_cyclonedx(image, p.report, std::string(kCliVersion));
        if (!res.multi()) {
          text << bom;
        } else if (!path.empty()) {
          if (!write_file(per_platform_path(path, p.scan.value("platform", "")), bom))
            return kExitUsage;
        } else {
          text << json::parse(bom).dump() << "\n";
        }
      }
      if (res.multi() && !path.empty()) continue;
    } else if (format == "sarif") {
      text << to_sarif(items, get_rules(), std::string(kCliVersion));
    } else {
      text << to_junit(items, get_rules(), c.policy);
    }
    if (path.empty()) {
      std::cout << text.str();
      continue;
    }
    if (!write_file(path, text.str())) return kExitUsage;
  }
  return 0;
}

json get_json(const ApiClient& api, const std::string& target) {
  auto r = api.call("GET", target);
  if (!r || r->status != 200) return json();
  json j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// Through a daemon: submit, long-poll until done or the timeout, then fetch what the formats
// need.
// One line on a terminal's stderr while layers download: layers done, bytes and rate. Nothing
// when stderr is not a terminal (a CI log), so that logs hold only the report.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { clear(); }
  void show(const json& progress) {
    if (!enabled_ || !progress.is_object()) return;
    std::uint64_t done = 0, total = 0;
    std::size_t layers = 0, finished = 0;
    for (auto& l : progress.value("layers", json::array())) {
      ++layers;
      done += l.value("bytes_done", std::uint64_t{0});
      total += l.value("bytes_total", std::uint64_t{0});
      std::string st = l.value("state", "");
      if (st == "analyzed" || st == "cached" || st == "skipped") ++finished;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char line[160];
    std::snprintf(line, sizeof line, "\r\033[Klayers %zu/%zu  %.1f/%.1f MB  %.1f MB/s", finished,
                  layers, done / 1e6, total / 1e6, secs > 0 ? done / 1e6 / secs : 0.0);
    std::cerr << line << std::flush;
    shown_ = true;
  }
  void clear() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A scan's results, or the exit code of why there are none (the reason already printed).
struct Obtained {
  int rc = 0;
  Results res;
};

// Through a daemon: submit, long-poll until done or the timeout.
Obtained obtain_remote(const ApiClient& api, const Command& c, const std::string& image) {
  json req = {{"image", image}};
  if (!c.platform.empty()) req["platform"] = c.platform;
  for (auto& [k, v] : c.policy.items()) req[k] = v;
  auto r = api.call("POST", "/v1/scans", req.dump());
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return {kExitUnavailable, {}};
  }
  if (r->status >= 400) {
    print_api_error(*r);
    return {r->status >= 500 ? kExitUnavailable : kExitUsage, {}};
  }
  json scan = json::parse(r->body, nullptr, false);
  std::string id = scan.value("id", "");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(c.timeout);
  bool tty = isatty(STDERR_FILENO);
  ProgressLine progress(tty);
  while (c.wait && exit_for(scan) == kExitUnavailable &&
         std::chrono::steady_clock::now() < deadline) {
    progress.show(scan.value("progress", json::object()));
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline -
                                                                 std::chrono::steady_clock::now());
    // On a terminal, short polls keep the progress line moving.
    auto step = tty ? 1L : std::min<long>(30, std::max<long>(1, left.count()));
    auto g = api.call("GET", "/v1/scans/" + id + "?wait=" + std::to_string(step), {},
                      std::chrono::seconds(step));
    if (!g) {
      std::cerr << "bulwark: " << g.error().message << "\n";
      return {kExitUnavailable, {}};
    }
    if (g->status != 200) {
      print_api_error(*g);
      return {kExitUnavailable, {}};
    }
    scan = json::parse(g->body, nullptr, false);
  }
  auto platform = [&api](const json& s) {
    std::string digest = s.value("manifest_digest", "");
    return Platform{s, fetch_report(api, s),
                    [&api, digest] { return get_json(api, "/v1/images/" + digest); }};
  };
  Results res{scan, {}, [&api] { return get_json(api, "/v1/rules"); }};
  if (res.multi()) {
    for (auto& id : scan.value("progress", json::object()).value("children", json::array()))
      if (json child = get_json(api, "/v1/scans/" + id.get<std::string>()); child.is_object())
        res.platforms.push_back(platform(child));
  } else {
    res.platforms.push_back(platform(scan));
  }
  return {0, std::move(res)};
}

// No daemon: the engine runs here, with its cache under $XDG_CACHE_HOME/bulwark.
Obtained obtain_local(const Command& c, const std::string& image) {
  ProgressLine progress(isatty(STDERR_FILENO));
  auto done = bw::cli::run_local_scan(
      image, c.platform, c.policy, std::chrono::seconds(c.timeout), bw::cli::default_cache_dir(),
      [&progress](const json& p) { progress.show(p); }, c.token_realms);
  progress.clear();
  if (!done) {
    std::cerr << "bulwark: " << bw::errc_name(done.error().code) << ": " << done.error().message
              << "\n";
    if (done.error().code == bw::Errc::timeout) return {kExitUnavailable, {}};
    return {bw::errc_http_status(done.error().code) < 500 ? kExitUsage : kExitScanFailed, {}};
  }
  Results res{done->scan, {}, [rules = done->rules] { return rules; }};
  auto platform = [](const bw::cli::LocalScan& l) {
    return Platform{l.scan, l.report, [image = l.image] { return image; }};
  };
  if (res.multi())
    for (auto& child : done->children) res.platforms.push_back(platform(child));
  else
    res.platforms.push_back(platform(*done));
  return {0, std::move(res)};
}

Obtained obtain(const ApiClient* api, const Command& c, const std::string& image) {
  return api ? obtain_remote(*api, c, image) : obtain_local(c, image);
}

// --input [TRANSPORT:]PATH[:TAG], as `trivy image --input` and skopeo take it: with skopeo's
// transports (docker-archive:, oci-archive:, oci:) as written; without, a directory is an OCI
// layout and a file a `docker save` tarball (classic or Docker 25+) or an oci-archive, told
// apart by what it holds; a TAG picks one image of several.
// Empty, with `error` set, when PATH is not there.
std::string source_of_input(const std::string& input, std::string& error) {
  auto exists = [](const std::string& p) {
    std::error_code ec;
    return std::filesystem::exists(p, ec);
  };
  for (const char* transport : {"docker-archive:", "oci-archive:", "oci:"}) {
    if (!input.starts_with(transport)) continue;
    std::string rest = input.substr(std::string_view(transport).size());
    std::string path = rest;
    if (auto colon = rest.rfind(':'); colon != std::string::npos && !exists(rest))
      path = rest.substr(0, colon);
    if (!exists(path)) {
      error = "--input " + input + ": no such file or directory " + path;
      return {};
    }
    return input;
  }
  std::string path = input, tag;
  if (auto colon = input.rfind(':');
      colon != std::string::npos && colon > 0 && !exists(input) && exists(input.substr(0, colon))) {
    path = input.substr(0, colon);
    tag = input.substr(colon + 1);
  }
  if (!exists(path)) {
    error = "--input " + input + ": no such file or directory";
    return {};
  }
  if (std::filesystem::is_directory(path)) return "oci:" + path + (tag.empty() ? "" : ":" + tag);
  return tag.empty() ? "docker-archive:" + path : "oci-archive:" + path + ":" + tag;
}

// The rule catalog that judges: the daemon's (GET /v1/rules), else the one built in.
std::shared_ptr<const bw::RuleCatalog> catalog_of(const ApiClient* api) {
  if (api)
    if (json rules = get_json(*api, "/v1/rules"); rules.is_object())
      if (auto parsed = bw::RuleCatalog::parse(rules.dump())) return *parsed;
  return bw::RuleCatalog::builtin();
}

// The ignore file in force: --ignore-file, else ./.bulwarkignore when there is one.
std::string ignore_file_of(const Command& c) {
  if (!c.ignore_file.empty()) return c.ignore_file;
  std::error_code ec;
  return std::filesystem::exists(".bulwarkignore", ec) ? ".bulwarkignore" : "";
}

// Suppressions as code, checked before anything is scanned: every rule id named by --ignore or
// the ignore file must exist. Fills `entries`; a usage error's exit code otherwise.
int load_ignores(const Command& c, const bw::RuleCatalog& catalog,
                 std::vector<bw::Suppression>& entries) {
  std::vector<std::string> known;
  for (auto& r : catalog.rules()) known.push_back(r.id);
  auto check = [&](const std::string& id, const std::string& where) {
    if (catalog.find(id)) return true;
    std::string hint = bw::cli::did_you_mean(id, known);
    usage_error(where + ": no rule " + id + (hint.empty() ? "" : "; " + hint));
    return false;
  };
  for (auto& id : c.policy.value("ignore", json::array()))
    if (!check(id.get<std::string>(), "--ignore")) return kExitUsage;
  std::string file = ignore_file_of(c);
  if (file.empty()) return 0;
  auto loaded = bw::cli::load_ignore_file(file);
  if (!loaded) return usage_error(loaded.error().message);
  for (auto& e : *loaded)
    if (!check(e.rule_id, file)) return kExitUsage;
  entries = std::move(*loaded);
  return 0;
}

// Marks what --ignore and the ignore file suppress in every platform's report, and judges the
// policy on what is left: the verdict of each platform, and the worst of them for "all".
void apply_ignores(const Command& c, const std::vector<bw::Suppression>& entries,
                   const bw::RuleCatalog& catalog, Results& res) {
  std::vector<std::string> ids = c.policy.value("ignore", std::vector<std::string>{});
  if (entries.empty() && ids.empty()) return;
  std::string source = ignore_file_of(c);
  auto now = std::chrono::system_clock::now();
  std::set<std::string> warned;
  std::vector<std::pair<std::string, bw::ScanResult>> judged;
  for (auto& p : res.platforms) {
    if (p.report.is_object()) {
      auto outcome = bw::cli::apply_ignores(p.report, entries, ids, source, catalog, now);
      for (auto& line : outcome.expired)
        if (warned.insert(line).second)
          std::cerr << "bulwark: " << source << ": " << line << "; it no longer suppresses\n";
      json policy = c.policy;
      policy.erase("ignore");  // applied above, with the file's entries
      const json judged_one =
          bw::to_json(bw::judge_report(p.report, policy.empty() ? "" : policy.dump(), catalog));
      for (auto& [k, v] : judged_one.items()) p.scan[k] = v;
    }
    judged.emplace_back(p.scan.value("platform", ""), bw::scan_result_from_json(p.scan));
  }
  if (res.multi()) {
    const json worst = bw::to_json(bw::combine_results(judged));
    for (auto& [k, v] : worst.items()) res.scan[k] = v;
  } else if (!res.platforms.empty()) {
    res.scan = res.platforms.front().scan;
  }
}

int cmd_scan(const ApiClient* api, Command c) {
  if (!c.input.empty()) {
    if (!c.params.empty()) return usage_error("scan takes IMAGE or --input PATH, not both");
    if (api) return usage_error("--input reads a file here: it needs no --server");
    std::string error, source = source_of_input(c.input, error);
    if (source.empty()) return usage_error(error);
    c.params.push_back(source);
  }
  if (c.params.size() != 1) return usage_error("scan takes one IMAGE");
  auto catalog = catalog_of(api);
  std::vector<bw::Suppression> entries;
  if (int rc = load_ignores(c, *catalog, entries); rc != 0) return rc;
  auto got = obtain(api, c, c.params[0]);
  if (got.rc != 0) return got.rc;
  apply_ignores(c, entries, *catalog, got.res);
  if (int rc = write_outputs(c, got.res); rc != 0) return rc;
  if (api && !c.wait) return 0;
  return exit_for(got.res.scan);
}

// What a findings list says per (rule, where): the identity that survives a rebuild.
std::map<std::string, json> finding_keys(const json& report) {
  std::map<std::string, json> out;
  for (auto& f : report.value("findings", json::array())) {
    if (f.value("suppressed", false)) continue;
    const json& ev = f.value("evidence", json::object());
    std::string at = ev.value("path", ev.value("config_key", ""));
    out[f.value("rule_id", "") + " " + at] = f;
  }
  return out;
}

// OS packages as "dpkg:bash", language packages as "npm:ms", "maven:group:artifact"; a
// language package installed at several versions (npm nests them) lists them all.
std::map<std::string, std::string> package_versions(const json& image) {
  std::map<std::string, std::string> out;
  for (auto& p : image.value("packages", json::array()))
    out[p.value("manager", "") + ":" + p.value("name", "")] = p.value("version", "");
  std::map<std::string, std::set<std::string>> app;
  for (auto& p : image.value("app_packages", json::array())) {
    std::string group = p.value("group", "");
    app[p.value("ecosystem", "") + ":" + (group.empty() ? "" : group + ":") + p.value("name", "")]
        .insert(p.value("version", ""));
  }
  for (auto& [k, versions] : app) {
    std::string joined;
    for (auto& v : versions) joined += (joined.empty() ? "" : ", ") + v;
    out[k] = joined;
  }
  return out;
}

// `bulwark diff A B`: what a base-image switch (or any rebuild) changed: score and grade,
// packages added, removed and changed, findings added and removed. The policy options judge
// AFTER (exit 1 when it fails); the formats are table, json and markdown, the others refused.
int cmd_diff(const ApiClient* api, const Command& c) {
  if (c.params.size() != 2) return usage_error("diff takes two images: BEFORE AFTER");
  if (c.platform == "all")
    return usage_error("diff compares one platform: --platform all is for scan");
  for (auto& [format, path] : c.outputs)
    if (format != "table" && format != "json" && format != "markdown")
      return usage_error("diff writes table, json or markdown, not " + format);
  auto catalog = catalog_of(api);
  std::vector<bw::Suppression> entries;
  if (int rc = load_ignores(c, *catalog, entries); rc != 0) return rc;
  Obtained before = obtain(api, c, c.params[0]);
  if (before.rc != 0) return before.rc;
  Obtained after = obtain(api, c, c.params[1]);
  if (after.rc != 0) return after.rc;
  for (auto* o : {&before, &after}) {
    apply_ignores(c, entries, *catalog, o->res);
    if (o->res.platforms.empty() || !o->res.platforms.front().report.is_object()) {
      std::cerr << "bulwark: " << o->res.scan.value("image", "") << " has no report (scan "
                << o->res.scan.value("status", "") << ")\n";
      return kExitScanFailed;
    }
  }
  const json &ra = before.res.platforms.front().report, &rb = after.res.platforms.front().report;
  json ia = before.res.platforms.front().image(), ib = after.res.platforms.front().image();
  auto pa = package_versions(ia), pb = package_versions(ib);
  json added = json::array(), removed = json::array(), changed = json::array();
  for (auto& [k, v] : pb)
    if (!pa.count(k))
      added.push_back({{"package", k}, {"version", v}});
    else if (pa[k] != v)
      changed.push_back({{"package", k}, {"before", pa[k]}, {"after", v}});
  for (auto& [k, v] : pa)
    if (!pb.count(k)) removed.push_back({{"package", k}, {"version", v}});
  auto fa = finding_keys(ra), fb = finding_keys(rb);
  json f_added = json::array(), f_removed = json::array();
  for (auto& [k, f] : fb)
    if (!fa.count(k)) f_added.push_back(f);
  for (auto& [k, f] : fa)
    if (!fb.count(k)) f_removed.push_back(f);
  auto side = [](const json& r) {
    return json{{"image", r.value("image", "")},
                {"manifest_digest", r.value("manifest_digest", "")},
                {"score", r.value("score", 0)},
                {"grade", r.value("grade", "")},
                {"base", r["base"].value("name", "")}};
  };
  json diff = {{"before", side(ra)},
               {"after", side(rb)},
               {"packages", {{"added", added}, {"removed", removed}, {"changed", changed}}},
               {"findings", {{"added", f_added}, {"removed", f_removed}}}};
  const json& verdict_of = after.res.scan;
  if (verdict_of.contains("verdict")) {
    diff["verdict"] = verdict_of["verdict"];
    diff["reasons"] = verdict_of.value("reasons", json::array());
  }
  int sa = ra.value("score", 0), sb = rb.value("score", 0);
  auto finding_text = [](const json& f) {
    const json& ev = f.value("evidence", json::object());
    return f.value("rule_id", "") + " (" + f.value("severity", "") + ") " +
           ev.value("path", ev.value("config_key", ""));
  };
  auto table = [&](std::ostream& out) {
    out << "before    " << ra.value("image", "") << "  " << sa << " (" << ra.value("grade", "")
        << ") on " << ra["base"].value("name", "?") << "\n"
        << "after     " << rb.value("image", "") << "  " << sb << " (" << rb.value("grade", "")
        << ") on " << rb["base"].value("name", "?") << "\n"
        << "score     " << (sb >= sa ? "+" : "") << sb - sa << "\n"
        << "packages  " << removed.size() << " removed, " << added.size() << " added, "
        << changed.size() << " changed\n";
    for (auto& p : removed)
      out << "  - " << p["package"].get<std::string>() << " " << p["version"].get<std::string>()
          << "\n";
    for (auto& p : added)
      out << "  + " << p["package"].get<std::string>() << " " << p["version"].get<std::string>()
          << "\n";
    for (auto& p : changed)
      out << "  ~ " << p["package"].get<std::string>() << " " << p["before"].get<std::string>()
          << " -> " << p["after"].get<std::string>() << "\n";
    out << "findings  " << f_removed.size() << " removed, " << f_added.size() << " added\n";
    for (auto& f : f_removed) out << "  - " << finding_text(f) << "\n";
    for (auto& f : f_added) out << "  + " << finding_text(f) << "\n";
    if (diff.contains("verdict")) {
      out << "verdict   " << diff["verdict"].get<std::string>() << " (after)\n";
      for (auto& r : diff["reasons"]) out << "  " << r.get<std::string>() << "\n";
    }
  };
  auto markdown = [&](std::ostream& out) {
    out << "### Bulwark diff: grade **" << ra.value("grade", "") << "** → **"
        << rb.value("grade", "") << "** (" << sa << " → " << sb << ", " << (sb >= sa ? "+" : "")
        << sb - sa << ")";
    if (diff.contains("verdict"))
      out << ", policy **" << diff["verdict"].get<std::string>() << "**";
    out << "\n\n| | image | base |\n|---|---|---|\n"
        << "| before | `" << ra.value("image", "") << "` | " << ra["base"].value("name", "?")
        << " |\n| after | `" << rb.value("image", "") << "` | " << rb["base"].value("name", "?")
        << " |\n\n**Packages:** " << removed.size() << " removed, " << added.size() << " added, "
        << changed.size() << " changed\n\n**Findings:** " << f_removed.size() << " removed, "
        << f_added.size() << " added\n\n";
    for (auto& f : f_removed) out << "- ~~" << finding_text(f) << "~~\n";
    for (auto& f : f_added) out << "- " << finding_text(f) << "\n";
  };
  auto outputs = c.outputs;
  if (outputs.empty()) outputs.emplace_back(c.json ? "json" : "table", "");
  for (auto& [format, path] : outputs) {
    std::ostringstream text;
    if (format == "json")
      text << diff.dump(2) << "\n";
    else if (format == "markdown")
      markdown(text);
    else
      table(text);
    if (path.empty())
      std::cout << text.str();
    else if (!write_file(path, text.str()))
      return kExitUsage;
  }
  return exit_for(verdict_of);
}

// GET `path`: its 200 answer's body, or the exit code after saying why it is not one.
// `unbounded`: a body past the client's 64 MiB for an answer (a snapshot of layer facts).
std::variant<std::string, int> get_ok(const ApiClient& api, const std::string& path,
                                      bool unbounded = false) {
  std::string body;
  auto r = unbounded ? api.download("GET", path, {},
                                    [&body](std::string_view piece) {
                                      body += piece;
                                      return true;
                                    })
                     : api.call("GET", path);
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return kExitUnavailable;
  }
  if (r->status != 200) {
    print_api_error(*r);
    return kExitUsage;
  }
  return unbounded ? std::move(body) : std::move(r->body);
}

int cmd_get(const ApiClient& api, const std::string& path, bool raw_json) {
  auto body = get_ok(api, path);
  if (auto* code = std::get_if<int>(&body)) return *code;
  const std::string& text = std::get<std::string>(body);
  auto j = json::parse(text, nullptr, false);
  if (raw_json || j.is_discarded())
    std::cout << (j.is_discarded() ? text : j.dump(2)) << "\n";
  else
    print_scan(j, std::cout);
  return 0;
}

// bulwark bases --snapshot FILE: what the daemon measured of its candidate bases, written whole
// or not at all, for a daemon that cannot reach them (its bases.snapshot).
int write_base_snapshot(const ApiClient& api, const std::string& file) {
  auto got = get_ok(api, "/v1/bases/snapshot", true);
  if (auto* code = std::get_if<int>(&got)) return *code;
  const std::string& body = std::get<std::string>(got);
  json snapshot = json::parse(body, nullptr, false);
  if (!snapshot.is_object() || !snapshot["bases"].is_array()) {
    std::cerr << "bulwark: the server answered with no snapshot\n";
    return kExitUnavailable;
  }
  const std::string partial = file + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << body;
    if (!out.flush()) {
      std::cerr << "bulwark: cannot write " << partial << "\n";
      return kExitUsage;
    }
  }
  std::error_code ec;
  std::filesystem::rename(partial, file, ec);
  if (ec) {
    std::cerr << "bulwark: cannot write " << file << ": " << ec.message() << "\n";
    return kExitUsage;
  }
  std::cout << "wrote " << file << ": " << snapshot["bases"].size() << " measured bases\n";
  for (auto& b : snapshot["bases"])
    std::cout << "  " << b.value("id", "") << "  " << b.value("reference", "") << "@"
              << b.value("manifest_digest", "") << "  measured " << b.value("measured_at", "")
              << "\n";
  return 0;
}

// bulwark bases: the candidate bases as the daemon measured them, one line each.
int cmd_bases(const ApiClient& api, const Command& c) {
  if (!c.snapshot.empty()) return write_base_snapshot(api, c.snapshot);
  const bool raw_json = c.json;
  auto body = get_ok(api, "/v1/bases");
  if (auto* code = std::get_if<int>(&body)) return *code;
  auto j = json::parse(std::get<std::string>(body), nullptr, false);
  if (raw_json || !j.is_object() || !j["bases"].is_array()) {
    std::cout << (j.is_discarded() ? std::get<std::string>(body) : j.dump(2)) << "\n";
    return 0;
  }
  std::cout << "ID                        GRADE  MEASURED                  DIGEST         "
               "REFERENCE\n";
  for (auto& b : j["bases"]) {
    const json& m = b["measured"];
    std::string grade = m.is_object() ? m.value("grade", "-") : "-";
    std::string when = m.is_object() ? m.value("measured_at", "-") : "not measured";
    std::string digest = m.is_object() ? m.value("manifest_digest", "") : "";
    if (digest.starts_with("sha256:")) digest = digest.substr(7, 12);
    std::string reference =
        b["reference"].is_string() ? b["reference"].get<std::string>() : b.value("image", "");
    std::string carries;
    if (m.is_object() && m["findings"].is_object())
      for (auto& [rule, n] : m["findings"].items()) carries += (carries.empty() ? "" : " ") + rule;
    std::printf(
        "%-25s %-6s %-25s %-14s %s%s\n", b.value("id", "").c_str(), grade.c_str(), when.c_str(),
        digest.empty() ? "-" : digest.c_str(), reference.c_str(),
        carries.empty() ? "" : ("\n" + std::string(26, ' ') + "carries: " + carries).c_str());
  }
  if (!j.value("measure", false))
    std::cout
        << "(bases.measure is off in the daemon's config: advice projects from the catalog)\n";
  return 0;
}

// bulwark harden IMAGE (--push REF | --output oci:DIR|oci-archive:FILE) [--onto ID|IMAGE]:
// scans IMAGE through the daemon, which builds the switch its plan (or --onto) recommends and
// pushes it, or sends it back as an OCI layout written here. The result is scanned (by the
// daemon, or here for an output) and its score set beside the one projected. Exit 0 when they
// agree, 1 when the built image scores otherwise.
int cmd_harden(const ApiClient& api, const Command& c) {
  if (c.params.size() != 1) return usage_error("harden takes one image");
  std::string output;
  for (auto& [format, file] : c.outputs)
    if (!file.empty()) output = file;
  if (c.push.empty() == output.empty())
    return usage_error(
        "harden needs one of --push REGISTRY/REPOSITORY[:TAG] and --output "
        "oci:DIR|oci-archive:FILE");
  std::optional<bw::cli::OciOutput> written;
  if (!output.empty()) {
    auto o = bw::cli::OciOutput::open(output);
    if (!o) return usage_error(o.error().message);
    written = std::move(*o);
  }
  const std::string& image = c.params[0];
  Obtained got = obtain_remote(api, c, image);
  if (got.rc != 0) return got.rc;
  const json& scan = got.res.platforms.at(0).scan;
  if (scan.value("status", "") != "done") {
    std::cerr << "bulwark: the scan of " << image << " did not finish: " << scan.dump() << "\n";
    return kExitScanFailed;
  }
  json req = {{"image", image}};
  if (written)
    req["output"] = "oci-archive";
  else
    req["push"] = c.push;
  if (!c.onto.empty()) req["onto"] = c.onto;
  const std::string target =
      "/v1/images/" + scan.value("manifest_digest", std::string()) + "/harden";
  auto r = written ? api.download(
                         "POST", target, req.dump(),
                         [&written](std::string_view piece) { return written->write(piece); },
                         std::chrono::seconds(c.timeout))
                   : api.call("POST", target, req.dump(), std::chrono::seconds(c.timeout));
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return kExitUnavailable;
  }
  if (r->status >= 400) {
    print_api_error(*r);
    return r->status >= 500 && r->status != 502 ? kExitUnavailable : kExitScanFailed;
  }
  json out = json::parse(written ? r->header("Bulwark-Harden") : r->body, nullptr, false);
  if (!out.is_object()) {
    std::cerr << "bulwark: the server answered harden with no summary\n";
    return kExitUnavailable;
  }
  if (written) {
    // Nothing was pushed: the layout is scanned here, by the engine the daemon runs.
    auto where = written->finish();
    if (!where) {
      std::cerr << "bulwark: " << where.error().message << "\n";
      return kExitUnavailable;
    }
    out["output"] = *where;
    Obtained measured = obtain_local(c, *where);
    if (measured.rc != 0) return measured.rc;
    const json& report = measured.res.platforms.at(0).report;
    if (report.is_object()) {
      out["after"] = {{"score", report["score"]}, {"grade", report["grade"]}};
      out["as_projected"] = report["score"] == out["projected"]["score"];
    }
  }
  const bool agreed = out.value("as_projected", false);
  if (c.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    auto score = [](const json& s) {
      return s.is_object() ? std::to_string(s.value("score", 0)) + " (" + s.value("grade", "") + ")"
                           : std::string("not measured yet");
    };
    const json& onto = out["onto"];
    const json& layers = out["layers"];
    std::cout << "hardened  " << out["source"].value("image", image) << "\n"
              << "onto      " << onto.value("id", "") << "  "
              << (onto.value("reference", "").empty()
                      ? std::string("(no base layers)")
                      : onto.value("reference", "") + "@" + onto.value("manifest_digest", ""))
              << "\n";
    if (written)
      std::cout << "written   " << out.value("output", "") << " ("
                << out.value("manifest_digest", "") << ")\n"
                << "layers    " << layers.value("total", 0) << ": "
                << layers.value("total", 0) - layers.value("built", 0) << " of the base, "
                << layers.value("built", 0) << " built (the app's closure:";
    else
      std::cout << "pushed    " << out.value("image", "") << "\n"
                << "layers    " << layers.value("total", 0) << ": " << layers.value("mounted", 0)
                << " mounted, " << layers.value("copied", 0) << " copied, "
                << layers.value("present", 0) << " already there, " << layers.value("built", 0)
                << " built (the app's closure:";
    for (auto& p : out.value("closure", json::object()).value("paths", json::array()))
      if (p.is_string()) std::cout << " " << p.get<std::string>();
    std::cout << ")\n"
              << "score     " << score(out["before"]) << " -> projected " << score(out["projected"])
              << " -> measured " << score(out.value("after", json())) << "\n";
    if (!out.contains("after") && out.contains("scan"))
      std::cout << "the scan of the result is " << out["scan"].value("status", "")
                << ": bulwark status " << out["scan"].value("id", "") << "\n";
  }
  if (out.contains("after") && !agreed) {
    std::cerr << "bulwark: the built image scores " << out["after"].value("score", 0)
              << ", not the " << out["projected"].value("score", 0) << " projected\n";
    return kExitPolicy;
  }
  return 0;
}

int cmd_version(Command c) {
  std::cout << "bulwark " << kCliVersion << "\n";
  if (c.server.empty()) {
    // No daemon: the engine in this binary scans, with its own rules and analysers.
    std::cout << "ruleset   " << bw::RuleCatalog::builtin()->version() << " (in-process)\n"
              << "analysers";
    for (auto& [name, version] : bw::analyzer_versions(bw::AnalyzeOptions{}))
      std::cout << " " << name << "=" << version;
    std::cout << "\n";
    return 0;
  }
  // The rules and analysers are the server's: ask it, briefly, and say so when it is away.
  auto api = ApiClient::create(c.server, "", c.cacert);
  if (!api) return 0;
  auto r = api->call("GET", "/version", {}, std::chrono::seconds(3));
  json v = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  if (!v.is_object()) {
    std::cout << "server    " << c.server << " not reachable\n";
    return 0;
  }
  std::cout << "server    bulwarkd " << v.value("version", "") << " at " << c.server << "\n"
            << "ruleset   " << v.value("ruleset_version", "") << "\n";
  if (v.contains("analyzers") && v["analyzers"].is_object()) {
    std::cout << "analysers";
    for (auto& [name, version] : v["analyzers"].items()) std::cout << " " << name << "=" << version;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Command c;
  const char* env_server = std::getenv("BULWARK_SERVER");
  c.server = env_server ? env_server : "";
  if (const char* realms = std::getenv("BULWARK_TOKEN_REALMS"); realms && *realms) {
    std::istringstream list(realms);
    for (std::string r; std::getline(list, r, ',');)
      if (!r.empty()) c.token_realms.push_back(r);
  }
  if (auto bad = bw::cli::parse_command(std::vector<std::string>(argv + 1, argv + argc), c))
    return usage_error(*bad);
  if (c.help) {
    usage(std::cout, c.name);
    return 0;
  }
  if (c.version) return cmd_version(c);
  if (c.name.empty()) {
    usage(std::cerr, {});
    return kExitUsage;
  }
  // With no server named, scans run in this process; the other commands ask the local daemon.
  if (c.name == "scan" && c.server.empty()) return cmd_scan(nullptr, c);
  if (c.name == "diff" && c.server.empty()) return cmd_diff(nullptr, c);
  if (c.server.empty()) c.server = "http://127.0.0.1:8080";
  // The token comes from the environment only: command lines are visible to other users.
  const char* token = std::getenv("BULWARK_TOKEN");
  auto api = ApiClient::create(c.server, token ? token : "", c.cacert);
  if (!api) {
    std::cerr << "bulwark: " << api.error().message << "\n";
    return kExitUsage;
  }
  if (c.name == "scan") return cmd_scan(&*api, c);
  if (c.name == "diff") return cmd_diff(&*api, c);
  if (c.name == "health") return cmd_get(*api, "/healthz", true);
  if (c.name == "bases") return cmd_bases(*api, c);
  if (c.name == "harden") return cmd_harden(*api, c);
  if (c.params.size() != 1) return usage_error(c.name + " takes one argument");
  const std::string& arg = c.params[0];
  if (c.name == "status") return cmd_get(*api, "/v1/scans/" + arg, c.json);
  if (c.name == "image") return cmd_get(*api, "/v1/images/" + arg, true);
  if (c.name == "layer") return cmd_get(*api, "/v1/layers/" + arg, true);
  if (c.name == "report") return cmd_get(*api, "/v1/images/" + arg + "/report", true);
  return usage_error("unknown command " + c.name);
}
