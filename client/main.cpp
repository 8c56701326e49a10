// bulwark: the CLI that CI pipelines call. Talks to bulwarkd over its REST API.
//
// Exit codes: 0 scan done (and passed its policy); 1 the image fails --fail-under/--fail-on;
// 2 usage or request refused; 3 scan failed or cancelled; 4 server unreachable or timed out.
#include "analyze/analyze.h"
#include "api_client.h"
#include "formats.h"
#include "local_scan.h"
#include "rules/rules.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using bw::cli::ApiClient;
using bw::cli::to_cyclonedx;
using bw::cli::to_junit;
using bw::cli::to_markdown;
using bw::cli::to_sarif;
using nlohmann::json;

constexpr int kExitPolicy = 1;
constexpr int kExitUsage = 2;
constexpr int kExitScanFailed = 3;
constexpr int kExitUnavailable = 4;
constexpr std::string_view kCliVersion = "0.1.0";

void usage(std::ostream& out) {
  out << "usage: bulwark [--server URL [--cacert FILE]] COMMAND ... (options anywhere)\n"
         "\n"
         "commands:\n"
         "  scan IMAGE [--platform OS/ARCH[/VARIANT]] [--timeout SECONDS] [--json] [--no-wait]\n"
         "             [--fail-under SCORE] [--fail-on SEVERITY] [--ignore RULE_ID]...\n"
         "             [--format table|json|sarif|junit|markdown|cyclonedx [--output FILE]]...\n"
         "  scan --input PATH[:TAG] ...  an image from a docker save tarball, an oci-archive or\n"
         "             an OCI layout directory (no daemon)\n"
         "      submit a scan and wait for it (default timeout 600 s); exit 1 when the image\n"
         "      scores under SCORE or has a finding at or above SEVERITY (info..critical)\n"
         "  diff BEFORE AFTER [--json] what changed between two images: score and grade,\n"
         "                            packages and findings added and removed\n"
         "  report DIGEST             print an image's report (JSON)\n"
         "  status SCAN_ID [--json]   show a scan\n"
         "  image DIGEST              print the stored image record (JSON)\n"
         "  layer DIGEST              print a layer's facts (JSON)\n"
         "  health                    check that the server answers\n"
         "\n"
         "  --help, --version         this text; the CLI's version and the server's rule set\n"
         "  --verbose, --no-color     list every file of a folded finding; no colour (NO_COLOR)\n"
         "\n"
         "--server defaults to $BULWARK_SERVER. With neither, `scan` runs the engine in this\n"
         "process (layer cache in $XDG_CACHE_HOME/bulwark) and reads IMAGE from a registry or\n"
         "from oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE; the other commands\n"
         "ask http://127.0.0.1:8080. An API token is read from $BULWARK_TOKEN.\n";
}

// A usage error: one clear line on stderr, exit 2.
int usage_error(const std::string& what) {
  std::cerr << "bulwark: " << what << " (see bulwark --help)\n";
  return kExitUsage;
}

// A whole number in [lo, hi], all of `text`: "5abc", "", "1e3" and out-of-range values are not.
std::optional<long> whole_number(const std::string& text, long lo, long hi) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  for (std::size_t k = i; k < text.size(); ++k)
    if (text[k] < '0' || text[k] > '9') return std::nullopt;
  long v = std::stol(text);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

// The command line, parsed whole: options may stand before or after the command and its
// arguments. Unknown options and missing values are usage errors.
struct Command {
  std::string server;
  std::string name;                 // scan, status, image, layer, report, health
  std::vector<std::string> params;  // positional arguments after the command
  std::string platform;
  std::string input;   // --input PATH[:TAG]: an image from a file instead of a reference
  std::string cacert;  // --cacert FILE: the CA that signed an https:// server's certificate
  long timeout = 600;
  bool json = false, wait = true, help = false, version = false, no_color = false, verbose = false;
  // --format F [--output FILE] pairs, in order; an output without a file goes to stdout.
  std::vector<std::pair<std::string, std::string>> outputs;
  nlohmann::json policy = nlohmann::json::object();
};

std::optional<std::string> parse_command(std::vector<std::string> args, Command& c) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return a + " needs a value";
      out = args[++i];
      return std::nullopt;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      c.help = true;
    } else if (a == "--version") {
      c.version = true;
    } else if (a == "--json") {
      c.json = true;
    } else if (a == "--no-wait") {
      c.wait = false;
    } else if (a == "--no-color") {
      c.no_color = true;
    } else if (a == "--verbose" || a == "-v") {
      c.verbose = true;
    } else if (a == "--server") {
      if (auto e = value(c.server)) return e;
    } else if (a == "--cacert") {
      if (auto e = value(c.cacert)) return e;
    } else if (a == "--platform") {
      if (auto e = value(c.platform)) return e;
    } else if (a == "--fail-on") {
      if (auto e = value(v)) return e;
      static const std::vector<std::string> kSeverities = {"info", "low", "medium", "high",
                                                           "critical"};
      if (std::find(kSeverities.begin(), kSeverities.end(), v) == kSeverities.end())
        return "--fail-on takes info, low, medium, high or critical, not \"" + v + "\"";
      c.policy["fail_on"] = v;
    } else if (a == "--format") {
      if (auto e = value(v)) return e;
      if (v != "table" && v != "json" && v != "sarif" && v != "junit" && v != "markdown" &&
          v != "cyclonedx")
        return "--format takes table, json, sarif, junit, markdown or cyclonedx, not \"" + v + "\"";
      c.outputs.emplace_back(v, "");
    } else if (a == "--output") {
      if (auto e = value(v)) return e;
      if (c.outputs.empty() || !c.outputs.back().second.empty())
        c.outputs.emplace_back("table", "");
      c.outputs.back().second = v;
    } else if (a == "--input") {
      if (auto e = value(v)) return e;
      c.input = v;
    } else if (a == "--ignore") {
      if (auto e = value(v)) return e;
      c.policy["ignore"].push_back(v);
    } else if (a == "--fail-under" || a == "--timeout") {
      if (auto e = value(v)) return e;
      bool under = a == "--fail-under";
      auto n = under ? whole_number(v, 0, 100) : whole_number(v, 1, 86'400);
      if (!n)
        return a + " takes a whole number from " + (under ? "0 to 100" : "1 to 86400") +
               ", not \"" + v + "\"";
      if (under)
        c.policy["fail_under"] = *n;
      else
        c.timeout = *n;
    } else if (a.starts_with("-") && a.size() > 1) {
      return "unknown option " + a;
    } else if (c.name.empty()) {
      c.name = a;
    } else {
      c.params.push_back(a);
    }
  }
  return std::nullopt;
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
  std::string severity(const std::string& sev) const {
    std::string label = sev;
    for (auto& ch : label) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    label.resize(8, ' ');
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

// Findings grouped by category, worst first; one line per rule with its title, where it is
// (several files of one rule folded into a count unless --verbose), the evidence and the fix.
void print_findings(const json& report, const json& rules, const Style& st, std::ostream& out) {
  if (!report.is_object()) return;
  const json rule_list = rules.value("rules", json::array());  // `catalog` points into it
  std::map<std::string, const json*> catalog;
  for (auto& r : rule_list) catalog[r.value("id", "")] = &r;
  out << "base      " << report["base"].value("name", "") << " ("
      << report["base"].value("method", "") << ")\n";
  // rule id -> its live findings, in report order
  std::map<std::string, std::vector<const json*>> by_rule;
  std::map<std::string, int> counts;
  const json& findings = report["findings"];
  for (auto& f : findings) {
    if (f.value("suppressed", false)) continue;
    by_rule[f.value("rule_id", "")].push_back(&f);
  }
  for (auto& [id, fs] : by_rule) ++counts[fs.front()->value("severity", "")];
  out << "findings  ";
  bool first = true;
  for (const char* sev : {"critical", "high", "medium", "low", "info"})
    if (counts[sev]) {
      out << (first ? "" : ", ") << counts[sev] << " " << sev;
      first = false;
    }
  out << (first ? "none" : "") << "\n";
  std::map<std::string, std::vector<std::string>> by_category;  // category -> rule ids
  for (auto& [id, fs] : by_rule) by_category[fs.front()->value("category", "other")].push_back(id);
  for (auto& [category, ids] : by_category) {
    std::stable_sort(ids.begin(), ids.end(), [&](auto& a, auto& b) {
      return severity_rank(by_rule[a].front()->value("severity", "")) >
             severity_rank(by_rule[b].front()->value("severity", ""));
    });
    std::string title = category;
    for (auto& ch : title) ch = ch == '_' ? ' ' : static_cast<char>(std::toupper(ch));
    out << "\n" << st.paint(title, "1") << "\n";
    for (auto& id : ids) {
      const auto& fs = by_rule[id];
      const json& f = *fs.front();
      out << "  " << st.severity(f.value("severity", "")) << id << "  " << f.value("title", "")
          << "  [" << f.value("origin", "") << "]\n";
      std::size_t shown = st.verbose ? fs.size() : std::min<std::size_t>(fs.size(), 3);
      for (std::size_t k = 0; k < shown; ++k) {
        const json& ev = fs[k]->value("evidence", json::object());
        std::string at = ev.value("path", "");
        if (!at.empty()) at = "/" + at;
        if (at.empty() && ev.contains("history_index"))
          at = "history[" + ev["history_index"].dump() + "]";
        if (at.empty()) at = ev.value("config_key", "");
        std::string detail = ev.value("detail", "");
        out << "          " << at << (detail.empty() || at.empty() ? "" : ": ") << detail << "\n";
      }
      if (shown < fs.size())
        out << "          … and " << fs.size() - shown << " more (--verbose lists them)\n";
      if (auto it = catalog.find(id); it != catalog.end())
        out << "          " << st.paint("fix:", "32") << " " << it->second->value("remediation", "")
            << "\n";
    }
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

// Writes the scan in every format asked for; the report, image record and rule catalog come
// from `fetch` (the daemon's API, or the in-process engine's answers).
struct Results {
  json scan, report;
  std::function<json()> image, rules;
};

int write_outputs(const Command& c, Results& res) {
  if (c.outputs.empty() && c.json) {
    std::cout << res.scan.dump(2) << "\n";
    return 0;
  }
  json rules, image;
  auto outputs = c.outputs;
  if (outputs.empty()) outputs.emplace_back("table", "");
  for (auto& [format, path] : outputs) {
    std::ostringstream text;
    if (format == "table") {
      // Colour only for a person at a terminal: never in files, pipes, or with NO_COLOR.
      const char* no_color = std::getenv("NO_COLOR");
      Style st{path.empty() && isatty(STDOUT_FILENO) && !c.no_color && !(no_color && *no_color),
               c.verbose};
      if (rules.is_null() && res.report.is_object()) rules = res.rules();
      print_scan(res.scan, text);
      print_findings(res.report, rules.is_null() ? json::object() : rules, st, text);
    } else if (!res.report.is_object()) {
      std::cerr << "bulwark: no report to write as " << format << " (scan "
                << res.scan.value("status", "") << ")\n";
      continue;
    } else if (format == "json") {
      text << res.report.dump(2) << "\n";
    } else if (format == "markdown") {
      text << to_markdown(res.report, res.scan);
    } else if (format == "cyclonedx") {
      if (image.is_null()) image = res.image();
      if (!image.is_object()) {
        std::cerr << "bulwark: the image record is not available for the SBOM\n";
        return kExitUnavailable;
      }
      text << to_cyclonedx(image, res.report, std::string(kCliVersion));
    } else {
      if (rules.is_null()) rules = res.rules();
      text << (format == "sarif" ? to_sarif(res.report, rules, std::string(kCliVersion))
                                 : to_junit(res.report, rules, res.scan));
    }
    if (path.empty()) {
      std::cout << text.str();
      continue;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text.str();
    if (!file) {
      std::cerr << "bulwark: cannot write " << path << "\n";
      return kExitUsage;
    }
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
  std::string digest = scan.value("manifest_digest", "");
  return {0, Results{scan, fetch_report(api, scan),
                     [&api, digest] { return get_json(api, "/v1/images/" + digest); },
                     [&api] { return get_json(api, "/v1/rules"); }}};
}

// No daemon: the engine runs here, with its cache under $XDG_CACHE_HOME/bulwark.
Obtained obtain_local(const Command& c, const std::string& image) {
  ProgressLine progress(isatty(STDERR_FILENO));
  auto done = bw::cli::run_local_scan(image, c.platform, c.policy, std::chrono::seconds(c.timeout),
                                      bw::cli::default_cache_dir(),
                                      [&progress](const json& p) { progress.show(p); });
  progress.clear();
  if (!done) {
    std::cerr << "bulwark: " << bw::errc_name(done.error().code) << ": " << done.error().message
              << "\n";
    if (done.error().code == bw::Errc::timeout) return {kExitUnavailable, {}};
    return {bw::errc_http_status(done.error().code) < 500 ? kExitUsage : kExitScanFailed, {}};
  }
  return {0, Results{done->scan, done->report, [image = done->image] { return image; },
                     [rules = done->rules] { return rules; }}};
}

Obtained obtain(const ApiClient* api, const Command& c, const std::string& image) {
  return api ? obtain_remote(*api, c, image) : obtain_local(c, image);
}

// --input PATH[:TAG], as `trivy image --input` takes it: a directory is an OCI layout; a file
// is a `docker save` tarball (classic or Docker 25+) or an oci-archive, told apart by what it
// holds; a TAG picks one image of several.
std::string source_of_input(const std::string& input) {
  std::string path = input, tag;
  if (auto colon = input.rfind(':'); colon != std::string::npos && colon > 0 &&
                                     !std::filesystem::exists(input) &&
                                     std::filesystem::exists(input.substr(0, colon))) {
    path = input.substr(0, colon);
    tag = input.substr(colon + 1);
  }
  if (std::filesystem::is_directory(path)) return "oci:" + path + (tag.empty() ? "" : ":" + tag);
  return tag.empty() ? "docker-archive:" + path : "oci-archive:" + path + ":" + tag;
}

int cmd_scan(const ApiClient* api, Command c) {
  if (!c.input.empty()) {
    if (!c.params.empty()) return usage_error("scan takes IMAGE or --input PATH, not both");
    if (api) return usage_error("--input reads a file here: it needs no --server");
    if (!std::filesystem::exists(c.input.substr(0, c.input.rfind(':'))) &&
        !std::filesystem::exists(c.input))
      return usage_error("--input " + c.input + ": no such file or directory");
    c.params.push_back(source_of_input(c.input));
  }
  if (c.params.size() != 1) return usage_error("scan takes one IMAGE");
  auto got = obtain(api, c, c.params[0]);
  if (got.rc != 0) return got.rc;
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

std::map<std::string, std::string> package_versions(const json& image) {
  std::map<std::string, std::string> out;
  for (auto& p : image.value("packages", json::array()))
    out[p.value("manager", "") + ":" + p.value("name", "")] = p.value("version", "");
  return out;
}

// `bulwark diff A B`: what a base-image switch (or any rebuild) changed: score and grade,
// packages added, removed and changed, findings added and removed.
int cmd_diff(const ApiClient* api, const Command& c) {
  if (c.params.size() != 2) return usage_error("diff takes two images: BEFORE AFTER");
  Obtained before = obtain(api, c, c.params[0]);
  if (before.rc != 0) return before.rc;
  Obtained after = obtain(api, c, c.params[1]);
  if (after.rc != 0) return after.rc;
  for (auto* o : {&before, &after})
    if (!o->res.report.is_object()) {
      std::cerr << "bulwark: " << o->res.scan.value("image", "") << " has no report (scan "
                << o->res.scan.value("status", "") << ")\n";
      return kExitScanFailed;
    }
  const json &ra = before.res.report, &rb = after.res.report;
  json ia = before.res.image(), ib = after.res.image();
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
  if (c.json || (!c.outputs.empty() && c.outputs[0].first == "json")) {
    std::cout << diff.dump(2) << "\n";
    return 0;
  }
  int sa = ra.value("score", 0), sb = rb.value("score", 0);
  std::cout << "before    " << ra.value("image", "") << "  " << sa << " (" << ra.value("grade", "")
            << ") on " << ra["base"].value("name", "?") << "\n"
            << "after     " << rb.value("image", "") << "  " << sb << " (" << rb.value("grade", "")
            << ") on " << rb["base"].value("name", "?") << "\n"
            << "score     " << (sb >= sa ? "+" : "") << sb - sa << "\n"
            << "packages  " << removed.size() << " removed, " << added.size() << " added, "
            << changed.size() << " changed\n";
  for (auto& p : removed)
    std::cout << "  - " << p["package"].get<std::string>() << " " << p["version"].get<std::string>()
              << "\n";
  for (auto& p : added)
    std::cout << "  + " << p["package"].get<std::string>() << " " << p["version"].get<std::string>()
              << "\n";
  for (auto& p : changed)
    std::cout << "  ~ " << p["package"].get<std::string>() << " " << p["before"].get<std::string>()
              << " -> " << p["after"].get<std::string>() << "\n";
  std::cout << "findings  " << f_removed.size() << " removed, " << f_added.size() << " added\n";
  auto line = [](const char* sign, const json& f) {
    const json& ev = f.value("evidence", json::object());
    std::cout << "  " << sign << " " << f.value("rule_id", "") << " (" << f.value("severity", "")
              << ") " << ev.value("path", ev.value("config_key", "")) << "\n";
  };
  for (auto& f : f_removed) line("-", f);
  for (auto& f : f_added) line("+", f);
  return 0;
}

int cmd_get(const ApiClient& api, const std::string& path, bool raw_json) {
  auto r = api.call("GET", path);
  if (!r) {
    std::cerr << "bulwark: " << r.error().message << "\n";
    return kExitUnavailable;
  }
  if (r->status != 200) {
    print_api_error(*r);
    return kExitUsage;
  }
  auto j = json::parse(r->body, nullptr, false);
  if (raw_json || j.is_discarded())
    std::cout << (j.is_discarded() ? r->body : j.dump(2)) << "\n";
  else
    print_scan(j, std::cout);
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
  if (auto bad = parse_command(std::vector<std::string>(argv + 1, argv + argc), c))
    return usage_error(*bad);
  if (c.help) {
    usage(std::cout);
    return 0;
  }
  if (c.version) return cmd_version(c);
  if (c.name.empty()) {
    usage(std::cerr);
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
  if (c.params.size() != 1) return usage_error(c.name + " takes one argument");
  const std::string& arg = c.params[0];
  if (c.name == "status") return cmd_get(*api, "/v1/scans/" + arg, c.json);
  if (c.name == "image") return cmd_get(*api, "/v1/images/" + arg, true);
  if (c.name == "layer") return cmd_get(*api, "/v1/layers/" + arg, true);
  if (c.name == "report") return cmd_get(*api, "/v1/images/" + arg + "/report", true);
  return usage_error("unknown command " + c.name);
}
