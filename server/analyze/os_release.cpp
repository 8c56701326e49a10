#include "analyze/os_release.h"

#include "common/text.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace bw {
namespace {

std::string first_line(std::string_view content) {
  return trim(content.substr(0, content.find('\n')));
}

std::vector<std::string> fields(std::string_view s) {
  std::istringstream in{std::string(s)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string join(const std::vector<std::string>& v, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < v.size(); ++i) out += (out.empty() ? "" : " ") + v[i];
  return out;
}

std::optional<OsInfo> from_os_release(std::string_view content) {
  std::map<std::string, std::string> kv;
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    kv[trim(line.substr(0, eq))] = trim(trim(line.substr(eq + 1)), "\"'");
  }
  std::string id = kv["ID"], version = kv["VERSION_ID"];
  static const std::map<std::string, std::string> kFamilies = {
      {"alpine", "alpine"},
      {"opensuse-tumbleweed", "opensuse-tumbleweed"},
      {"opensuse-leap", "opensuse-leap"},
      {"opensuse", "opensuse-leap"},
      {"sles", "sles"},
      {"sle-micro", "slem"},
      {"sl-micro", "slem"},
      {"sle-micro-rancher", "slem"},
      {"photon", "photon"},
      {"wolfi", "wolfi"},
      {"chainguard", "chainguard"},
      {"echo", "echo"},
      {"minimos", "minimos"},
      {"azurelinux", "azurelinux"},
      {"mariner", "cbl-mariner"},
      {"fedora", "fedora"},
      {"rhel", "redhat"},
      {"centos", "centos"},
      {"rocky", "rocky"},
      {"almalinux", "alma"},
      {"ol", "oracle"},
      {"coreos", "coreos"},
      {"activestate", "activestate"},
      {"bottlerocket", "bottlerocket"},
      {"amzn", "amazon"}};
  auto it = kFamilies.find(id);
  if (it == kFamilies.end() || version.empty()) {
    // Debian, Ubuntu and distroless are identified from their own files (Trivy does the same),
    // but os-release still names them: keep that as a fallback for images without those files.
    if ((id == "debian" || id == "ubuntu") && !version.empty())
      return OsInfo{id, version, kv["PRETTY_NAME"], true};
    return std::nullopt;
  }
  std::string family = it->second;
  if (family == "centos" && kv["NAME"].find("CentOS Stream") != std::string::npos)
    family = "centos-stream";
  return OsInfo{family, version, kv["PRETTY_NAME"]};
}

}  // namespace

bool is_os_release_path(std::string_view p) {
  static constexpr std::string_view kPaths[] = {
      "etc/os-release",
      "usr/lib/os-release",
      "etc/alpine-release",
      "etc/debian_version",
      "etc/lsb-release",
      "etc/redhat-release",
      "etc/centos-release",
      "etc/almalinux-release",
      "etc/rocky-release",
      "etc/oracle-release",
      "etc/fedora-release",
      "etc/system-release",
      "usr/lib/system-release",
      "aarch64-bottlerocket-linux-gnu/sys-root/usr/lib/os-release",
      "x86_64-bottlerocket-linux-gnu/sys-root/usr/lib/os-release"};
  return std::find(std::begin(kPaths), std::end(kPaths), p) != std::end(kPaths);
}

std::optional<OsInfo> parse_os_release_file(std::string_view path, std::string_view content,
                                            std::string& error) {
  error.clear();
  if (path == "os-release" || path.ends_with("/os-release")) return from_os_release(content);
  if (path == "etc/alpine-release") {
    std::string v = first_line(content);
    if (v.empty()) return std::nullopt;
    return OsInfo{"alpine", v, ""};
  }
  if (path == "etc/debian_version") {
    std::string v = first_line(content);
    if (v.empty()) {
      error = "debian: unable to analyze OS information";
      return std::nullopt;
    }
    return OsInfo{"debian", v, ""};
  }
  if (path == "etc/lsb-release") {
    bool ubuntu = false;
    std::string release;
    std::istringstream in{std::string(content)};
    for (std::string line; std::getline(in, line);) {
      line = trim(line);
      if (line == "DISTRIB_ID=Ubuntu") ubuntu = true;
      if (line.starts_with("DISTRIB_RELEASE=")) release = line.substr(16);
    }
    if (!ubuntu || release.empty()) {
      error = "ubuntu: unable to analyze OS information";
      return std::nullopt;
    }
    return OsInfo{"ubuntu", release, ""};
  }
  if (path.ends_with("system-release")) {
    std::string line = first_line(content);
    auto f = fields(line);
    if (line.starts_with("Amazon Linux release 2") && f.size() >= 5)
      return OsInfo{"amazon", join(f, 3), ""};
    if (line.starts_with("Amazon Linux") && f.size() >= 3 &&
        !line.starts_with("Amazon Linux release"))
      return OsInfo{"amazon", join(f, 2), ""};
    error = "amazon: unable to analyze OS information";
    return std::nullopt;
  }
  // redhat-release and friends: "<name> release <version>"
  static const RE2 kRelease(R"((.*) release (\d[\d.]*))");
  std::string name, version;
  std::string line = first_line(content);
  if (!RE2::PartialMatch(line, kRelease, &name, &version)) {
    error = "redhatbase: unable to analyze OS information";
    return std::nullopt;
  }
  std::string lname = name;
  std::transform(lname.begin(), lname.end(), lname.begin(), ::tolower);
  std::string family = "redhat";
  for (auto [prefix, fam] : {std::pair{"centos", "centos"},
                             {"rocky", "rocky"},
                             {"alma", "alma"},
                             {"oracle", "oracle"},
                             {"fedora", "fedora"}})
    if (lname.starts_with(prefix)) family = fam;
  return OsInfo{family, version, ""};
}

std::optional<OsInfo> merge_os(const std::vector<OsInfo>& found) {
  std::optional<OsInfo> out;
  std::optional<OsInfo> fallback;  // Debian/Ubuntu named only by os-release
  for (auto& os : found) {
    if (os.fallback) {
      if (!fallback) fallback = OsInfo{os.family, os.name, os.pretty};
      continue;
    }
    if (!out) {
      out = os;
    } else if ((out->family == "redhat" || out->family == "debian") && !os.family.empty() &&
               os.family != out->family) {
      std::string pretty = out->pretty.empty() ? os.pretty : out->pretty;
      out = os;
      out->pretty = pretty;
    }
  }
  if (!out) return fallback;
  if (out->pretty.empty() && fallback) out->pretty = fallback->pretty;
  return out;
}

nlohmann::json to_json(const OsInfo& os) {
  nlohmann::json j = {{"family", os.family}, {"name", os.name}};
  if (!os.pretty.empty()) j["pretty_name"] = os.pretty;
  if (os.fallback) j["identified_by"] = "os-release";
  return j;
}

OsInfo os_info_from_json(const nlohmann::json& j) {
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  OsInfo os{str("family"), str("name"), str("pretty_name"), str("identified_by") == "os-release"};
  // Facts stored before the flag marked the fallback with a "?" after the family.
  if (os.family.ends_with("?")) {
    os.family.pop_back();
    os.fallback = true;
  }
  return os;
}

}  // namespace bw
