#include "analyze/analyze.h"

#include "analyze/elf.h"
#include "analyze/os_release.h"
#include "analyze/packages.h"
#include "common/text.h"

#include <algorithm>
#include <array>
#include <set>
#include <sstream>

namespace bw {

using nlohmann::json;

namespace {

std::string_view basename_of(std::string_view p) {
  auto s = p.rfind('/');
  return s == std::string_view::npos ? p : p.substr(s + 1);
}

std::string_view dirname_of(std::string_view p) {
  auto s = p.rfind('/');
  return s == std::string_view::npos ? std::string_view() : p.substr(0, s);
}

bool in_bin_dir(std::string_view p) {
  std::string_view dir = dirname_of(p);
  for (auto d : {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"})
    if (dir == d) return true;
  return false;
}

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

constexpr std::array<std::string_view, 11> kShells = {
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"};
constexpr std::array<std::string_view, 15> kPackageManagers = {
    "dpkg",   "apt", "apt-get", "apk", "rpm",  "dnf", "yum", "microdnf",
    "zypper", "pip", "pip3",    "npm", "yarn", "gem", "tdnf"};
constexpr std::array<std::string_view, 13> kNetworkTools = {
    "curl", "wget", "nc",   "netcat",  "ncat", "socat", "telnet",
    "ssh",  "scp",  "sftp", "openssl", "ftp",  "nmap"};
constexpr std::array<std::string_view, 7> kDebugTools = {"gdb",  "strace",   "ltrace",   "tcpdump",
                                                         "perf", "valgrind", "gdbserver"};
constexpr std::array<std::string_view, 13> kToolchain = {"gcc",     "g++",  "cc", "c++",   "clang",
                                                         "clang++", "make", "go", "rustc", "cargo",
                                                         "javac",   "ld",   "as"};
constexpr std::array<std::string_view, 17> kCredentialNames = {"credentials.json",
                                                               "credential.json",
                                                               "credentials",
                                                               "credential",
                                                               "password.txt",
                                                               "id_rsa",
                                                               "id_dsa",
                                                               "id_ecdsa",
                                                               "id_ed25519",
                                                               "secret_token.rb",
                                                               "carrierwave.rb",
                                                               "omniauth.rb",
                                                               "settings.py",
                                                               "database.yml",
                                                               "credentials.xml",
                                                               ".env",
                                                               ".netrc"};
constexpr std::array<std::string_view, 20> kCredentialExtensions = {
    ".secret",   ".ovpn",   ".private_key",   ".cscfg",    ".rdp",
    ".mdf",      ".sdf",    ".bek",           ".tpm",      ".fve",
    ".jks",      ".psafe3", ".agilekeychain", ".keychain", ".pcap",
    ".gnucache", ".p12",    ".pfx",           ".key",      ".pem"};
constexpr std::array<std::string_view, 8> kUnneededDirs = {".cache", ".aws",    ".azure", ".gcp",
                                                           ".git",   ".vscode", ".idea",  ".npm"};
constexpr std::array<std::string_view, 4> kUnneededNames = {"Dockerfile", "docker-compose.yml",
                                                            ".vimrc", ".DS_Store"};

bool is_account_file(std::string_view p) {
  return p == "etc/passwd" || p == "etc/group" || p == "etc/shadow";
}

// Text worth scanning for secrets: not where the secret rules' allow lists look away anyway.
bool secret_candidate(std::string_view p) {
  for (auto prefix : {"usr/share/", "usr/include/", "usr/lib/", "lib/", "usr/libexec/", "proc/",
                      "sys/", "var/lib/dpkg/", "var/lib/apt/", "var/cache/", "usr/local/go/"})
    if (p.starts_with(prefix)) return false;
  std::string_view base = basename_of(p);
  for (auto ext :
       {".so", ".a", ".o", ".png", ".jpg", ".gif", ".gz", ".zip", ".jar", ".pyc", ".whl", ".mo"})
    if (base.ends_with(ext)) return false;
  return base.find(".so.") == std::string_view::npos;
}

json parse_passwd(std::string_view content) {
  json accounts = json::array();
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 7) continue;
    json a = {{"name", f[0]}, {"uid", f[2]}, {"gid", f[3]}, {"home", f[5]}, {"shell", f[6]}};
    accounts.push_back(std::move(a));
  }
  return accounts;
}

json parse_group(std::string_view content) {
  json groups = json::array();
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    groups.push_back({{"name", f[0]}, {"gid", f[2]}});
  }
  return groups;
}

// Only whether a password is empty, locked or set: never the hash.
json parse_shadow(std::string_view content) {
  json out = json::array();
  std::istringstream in{std::string(content)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    std::string pw = line.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    std::string state = pw.empty() ? "empty" : (pw[0] == '!' || pw[0] == '*') ? "locked" : "set";
    out.push_back({{"name", line.substr(0, c1)}, {"password", state}});
  }
  return out;
}

bool looks_binary(std::string_view s) {
  return s.substr(0, 8000).find('\0') != std::string_view::npos;
}

}  // namespace

std::vector<std::string> classify_path(std::string_view path, char kind, std::uint32_t mode) {
  std::vector<std::string> tags;
  std::string_view base = basename_of(path);
  bool file_like = kind == 'f' || kind == 'l' || kind == 'h';
  bool exec = (mode & 0111) || kind == 'l';
  if (file_like && in_bin_dir(path) && exec) {
    if (one_of(base, kShells)) tags.push_back("shell");
    if (one_of(base, kPackageManagers)) tags.push_back("package_manager");
    if (one_of(base, kNetworkTools)) tags.push_back("network_tool");
    if (one_of(base, kDebugTools)) tags.push_back("debug_tool");
    if (one_of(base, kToolchain) || base.starts_with("gcc-") || base.starts_with("clang-"))
      tags.push_back("toolchain");
    if (base == "sshd") tags.push_back("sshd");
    if (base == "sudo") tags.push_back("sudo");
    if (base == "java") tags.push_back("runtime:java");
    if (base == "python3" || base == "python" || base.starts_with("python3."))
      tags.push_back("runtime:python");
    if (base == "node" || base == "nodejs") tags.push_back("runtime:node");
  }
  if (path == "etc/ssh/sshd_config") tags.push_back("sshd");
  if (path == "etc/ssl/certs/ca-certificates.crt" || path == "etc/pki/tls/certs/ca-bundle.crt" ||
      path == "etc/ssl/cert.pem")
    tags.push_back("ca_certificates");
  if (path == "usr/share/zoneinfo" || path == "usr/share/zoneinfo/UTC") tags.push_back("tzdata");
  bool vendored = path.find("node_modules/") != std::string_view::npos ||
                  path.find("vendor/") != std::string_view::npos;
  if (!vendored) {
    if (kind == 'f' && one_of(base, kUnneededNames)) tags.push_back("unneeded");
    if (kind == 'd' && one_of(base, kUnneededDirs)) tags.push_back("unneeded");
  }
  if (kind == 'f') {
    bool cred = one_of(base, kCredentialNames) ||
                std::any_of(kCredentialExtensions.begin(), kCredentialExtensions.end(),
                            [&](auto e) { return base.ends_with(e); }) ||
                path.ends_with(".docker/config.json") || base == ".npmrc" || base == ".pypirc" ||
                base == ".git-credentials";
    // Certificates and keys shipped by packages are public material, not secrets.
    if (cred && !path.starts_with("usr/share/") && !path.starts_with("etc/ssl/certs/") &&
        !path.starts_with("usr/lib/"))
      tags.push_back("credential_file");
  }
  return tags;
}

std::size_t content_wanted(std::string_view path, char kind, std::uint32_t mode, std::uint64_t size,
                           const AnalyzeOptions& o) {
  if (kind != 'f') return 0;
  if (is_os_release_path(path) || is_account_file(path)) return o.max_file_read_bytes;
  if (!package_db_kind(path).empty()) return o.max_package_db_bytes;
  if ((mode & 0111) && size >= 64) return o.max_elf_read_bytes;
  if (o.secrets && size >= 10 && size <= o.max_file_read_bytes && secret_candidate(path))
    return o.max_file_read_bytes;
  return 0;
}

json analyze_content(std::string_view path, std::uint32_t mode, std::string_view head,
                     bool truncated, const AnalyzeOptions& o) {
  json out = json::object();
  if (is_os_release_path(path)) {
    std::string error;
    if (auto os = parse_os_release_file(path, head, error))
      out["os"] = to_json(*os);
    else if (!error.empty())
      out["os_error"] = error;
  }
  std::string db = package_db_kind(path);
  if (!db.empty()) {
    json pk = json::array();
    if (truncated) {
      out["package_db"] = {
          {"kind", db}, {"parsed", false}, {"reason", "larger than max_package_db_bytes"}};
    } else if (db == "dpkg" || db == "apk") {
      for (auto& p : db == "dpkg" ? parse_dpkg_status(head) : parse_apk_installed(head))
        pk.push_back(to_json(p));
      out["package_db"] = {{"kind", db}, {"parsed", true}};
      out["packages"] = std::move(pk);
    } else if (db == "rpm-sqlite") {
      auto rpms = parse_rpm_sqlite(head);
      if (rpms) {
        for (auto& p : *rpms) pk.push_back(to_json(p));
        out["package_db"] = {{"kind", db}, {"parsed", true}};
        out["packages"] = std::move(pk);
      } else {
        out["package_db"] = {{"kind", db}, {"parsed", false}, {"reason", rpms.error().message}};
      }
    } else {
      // BerkeleyDB and NDB rpm databases: recorded as present rather than guessed at.
      out["package_db"] = {{"kind", db}, {"parsed", false}, {"reason", "format not parsed"}};
    }
  }
  if (path == "etc/passwd") out["accounts"] = parse_passwd(head);
  if (path == "etc/group") out["groups"] = parse_group(head);
  if (path == "etc/shadow") out["shadow"] = parse_shadow(head);
  if (mode & 0111) {
    if (auto elf = analyze_elf(head, truncated)) out["elf"] = std::move(*elf);
  }
  if (o.secrets && !out.contains("elf") && !truncated && head.size() >= 10 && !looks_binary(head) &&
      secret_candidate(path)) {
    auto found = o.secrets->scan(path, head);
    if (!found.empty()) {
      json s = json::array();
      for (auto& f : found) s.push_back(to_json(f));
      out["secrets"] = std::move(s);
    }
  }
  return out;
}

}  // namespace bw
