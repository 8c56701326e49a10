#include "analyze/analyze.h"

#include "common/text.h"

#include <algorithm>
#include <array>

namespace bw {

using nlohmann::json;

namespace {

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
constexpr std::array<std::string_view, 18> kCredentialNames = {
    "credentials.json", "credential.json", "credentials",     "credential",
    "password.txt",     "id_rsa",          "id_dsa",          "id_ecdsa",
    "id_ed25519",       "secret_token.rb", "carrierwave.rb",  "omniauth.rb",
    "settings.py",      "database.yml",    "credentials.xml", ".env",
    ".netrc",           ".htpasswd"};
constexpr std::array<std::string_view, 20> kCredentialExtensions = {
    ".secret",   ".ovpn",   ".private_key",   ".cscfg",    ".rdp",
    ".mdf",      ".sdf",    ".bek",           ".tpm",      ".fve",
    ".jks",      ".psafe3", ".agilekeychain", ".keychain", ".pcap",
    ".gnucache", ".p12",    ".pfx",           ".key",      ".pem"};
constexpr std::array<std::string_view, 8> kUnneededDirs = {".cache", ".aws",    ".azure", ".gcp",
                                                           ".git",   ".vscode", ".idea",  ".npm"};
constexpr std::array<std::string_view, 10> kUnneededNames = {
    "Dockerfile",    "docker-compose.yml", ".vimrc",      ".DS_Store",    "docker-compose.yaml",
    ".dockerignore", ".gitlab-ci.yml",     "Jenkinsfile", ".env.example", ".env.sample"};
// An app's test suites; looked for only outside the OS's and the package managers' trees.
constexpr std::array<std::string_view, 4> kTestDirs = {"test", "tests", "__tests__", "spec"};
// Where package managers keep what they downloaded: directories (under any home) and the
// files of the OS's package caches.
constexpr std::array<std::string_view, 7> kCacheDirs = {
    ".npm/_cacache", ".cache/pip",     ".m2/repository", ".cache/go-build",
    ".cache/yarn",   ".gradle/caches", ".cache/pypoetry"};

// A path of the app's own: not the OS's (usr/, lib/, etc/, …) and not a package manager's tree.
bool app_path(std::string_view path) {
  for (auto root : {"usr/", "lib/", "lib64/", "etc/", "var/", "bin/", "sbin/", "proc/", "sys/"})
    if (path.starts_with(root)) return false;
  for (auto tree : {"node_modules/", "site-packages/", "dist-packages/", "vendor/", "/go/pkg/"})
    if (path.find(tree) != std::string_view::npos) return false;
  return true;
}

bool package_cache(std::string_view path, char kind) {
  if (kind == 'd')
    return std::any_of(kCacheDirs.begin(), kCacheDirs.end(), [&](std::string_view c) {
      return path.ends_with(c) &&
             (path.size() == c.size() || path[path.size() - c.size() - 1] == '/');
    });
  if (kind != 'f') return false;
  std::string_view dir = dirname_of(path), base = path_base_name(path);
  return (dir == "var/cache/apt/archives" && base.ends_with(".deb")) ||
         (dir == "var/lib/apt/lists" && base != "lock") ||
         (dir == "var/cache/apk" && base.ends_with(".tar.gz")) ||
         ((dir == "var/cache/dnf" || dir == "var/cache/yum") && base.ends_with(".rpm"));
}

}  // namespace

bool is_shell_name(std::string_view base_name) {
  return one_of(base_name, kShells);
}

std::string_view runtime_of_program(std::string_view b) {
  if (b == "java") return "java";
  if (b == "python" || b == "python3" || b.starts_with("python3.")) return "python";
  if (b == "node" || b == "nodejs") return "node";
  return {};
}

std::vector<FileTag> classify_path(std::string_view path, char kind, std::uint32_t mode) {
  std::vector<FileTag> tags;
  std::string_view base = path_base_name(path);
  bool file_like = kind == 'f' || kind == 'l' || kind == 'h';
  bool exec = (mode & 0111) || kind == 'l';
  if (file_like && in_bin_dir(path) && exec) {
    if (is_shell_name(base)) tags.push_back(FileTag::shell);
    if (one_of(base, kPackageManagers)) tags.push_back(FileTag::package_manager);
    if (one_of(base, kNetworkTools)) tags.push_back(FileTag::network_tool);
    if (one_of(base, kDebugTools)) tags.push_back(FileTag::debug_tool);
    if (base == "sshd") tags.push_back(FileTag::sshd);
    if (base == "sudo") tags.push_back(FileTag::sudo);
  }
  // Runtimes and toolchains count wherever they are installed: a JDK under /usr/lib/jvm or
  // /opt/java, a Python or Node under /opt or /usr/local/lib.
  std::string_view dir = dirname_of(path);
  if (file_like && exec && (dir == "bin" || dir.ends_with("/bin"))) {
    // Toolchains too: Go under usr/lib/go-*/bin or usr/local/go/bin, compilers under /opt.
    if (one_of(base, kToolchain) || base.starts_with("gcc-") || base.starts_with("g++-") ||
        base.starts_with("clang-") || base.starts_with("clang++-"))
      tags.push_back(FileTag::toolchain);
    std::string_view runtime = runtime_of_program(base);
    if (runtime == "java") tags.push_back(FileTag::runtime_java);
    if (runtime == "python") tags.push_back(FileTag::runtime_python);
    if (runtime == "node") tags.push_back(FileTag::runtime_node);
  }
  if (path == "etc/ssh/sshd_config") tags.push_back(FileTag::sshd);
  // Keys that let their holder log in to every container of the image.
  if (kind == 'f' && (base == "authorized_keys" || base == "authorized_keys2") &&
      path_base_name(dirname_of(path)) == ".ssh")
    tags.push_back(FileTag::ssh_authorized_keys);
  if (path == "etc/ssl/certs/ca-certificates.crt" || path == "etc/pki/tls/certs/ca-bundle.crt" ||
      path == "etc/ssl/cert.pem")
    tags.push_back(FileTag::ca_certificates);
  if (path == "usr/share/zoneinfo" || path == "usr/share/zoneinfo/UTC")
    tags.push_back(FileTag::tzdata);
  bool vendored = path.find("node_modules/") != std::string_view::npos ||
                  path.find("vendor/") != std::string_view::npos;
  if (!vendored) {
    if (kind == 'f' && one_of(base, kUnneededNames)) tags.push_back(FileTag::unneeded);
    if (kind == 'd' && one_of(base, kUnneededDirs)) tags.push_back(FileTag::unneeded);
    // Source maps beside minified code publish the original source.
    if (kind == 'f' && base.ends_with(".js.map") && app_path(path))
      tags.push_back(FileTag::unneeded);
    if (kind == 'd' && one_of(base, kTestDirs) && app_path(path)) tags.push_back(FileTag::unneeded);
  }
  if (package_cache(path, kind)) tags.push_back(FileTag::package_cache);
  if (kind == 'f') {
    bool cred = one_of(base, kCredentialNames) ||
                std::any_of(kCredentialExtensions.begin(), kCredentialExtensions.end(),
                            [&](auto e) { return base.ends_with(e); }) ||
                path.ends_with(".docker/config.json") || base == ".npmrc" || base == ".pypirc" ||
                base == ".git-credentials" ||
                // A user's Maven settings hold repository passwords; the one Maven ships under
                // /usr/share/maven/conf holds none.
                path.ends_with(".m2/settings.xml") || path.ends_with(".m2/settings-security.xml");
    // Certificates and keys shipped by packages are public material, not secrets.
    if (cred && !path.starts_with("usr/share/") && !path.starts_with("etc/ssl/certs/") &&
        !path.starts_with("usr/lib/"))
      tags.push_back(FileTag::credential_file);
  }
  return tags;
}

}  // namespace bw
