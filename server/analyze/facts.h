// The facts model: what the analysers learn from one file (FileInfo), and what an image's merged
// layers show (ImageSummary). Rules, base detection and recommendations read these fields; JSON
// exists only at the store and API edges (to_json/from_json below, found by nlohmann by ADL), so
// a misspelt field is a compile error, not a rule that silently never fires.
#pragma once

#include "analyze/app_packages.h"
#include "analyze/capabilities.h"
#include "analyze/elf.h"
#include "analyze/os_release.h"
#include "analyze/packages.h"
#include "analyze/secrets.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

// What a path alone says about a file (classify_path).
enum class FileTag : std::uint8_t {
  shell,
  package_manager,
  network_tool,
  debug_tool,
  toolchain,
  sshd,
  sudo,
  unneeded,
  credential_file,
  runtime_java,
  runtime_python,
  runtime_node,
  ca_certificates,
  tzdata,
  ssh_authorized_keys,
  package_cache,
};
// The stored name ("shell", "runtime:java", …) and back; nullopt for an unknown name.
std::string_view tag_name(FileTag t);
std::optional<FileTag> tag_from_name(std::string_view name);
// "java" for runtime_java and so on; empty for tags that are no runtime.
std::string_view runtime_of(FileTag t);
inline void to_json(nlohmann::json& j, FileTag t) {
  j = tag_name(t);
}

struct PackageDb {
  std::string kind;  // package_db_kind(): "dpkg", "apk", "rpm-sqlite", …
  bool parsed = false;
  std::string reason;  // why not parsed
};

struct Account {  // one /etc/passwd line; ids as written
  std::string name, uid, gid, home, shell;
};
struct Group {
  std::string name, gid;
};
enum class PasswordState : std::uint8_t { empty, locked, set };
NLOHMANN_JSON_SERIALIZE_ENUM(PasswordState, {{PasswordState::locked, "locked"},
                                             {PasswordState::empty, "empty"},
                                             {PasswordState::set, "set"}})
struct PasswordEntry {  // one /etc/shadow line, never the hash
  std::string name;
  PasswordState password = PasswordState::locked;
};

// A script: what runs it and the programs it names by absolute path (what it needs of the base).
struct ScriptInfo {
  std::string interpreter;         // the program's base name, past `env`: "sh", "python3", …
  std::vector<std::string> calls;  // absolute program paths it names, without the leading "/"
};

// Everything the analysers learned from one file. Empty for a plain notable entry.
struct FileInfo {
  std::vector<FileTag> tags;
  std::optional<OsInfo> os;
  std::string os_error;  // a release file the OS analyser rejected
  std::optional<PackageDb> package_db;
  std::vector<Package> packages;
  std::optional<std::vector<Account>> accounts;      // etc/passwd
  std::optional<std::vector<Group>> groups;          // etc/group
  std::optional<std::vector<PasswordEntry>> shadow;  // etc/shadow
  std::vector<SecretFinding> secrets;
  std::optional<ElfInfo> elf;
  std::optional<ScriptInfo> script;
  // sshd settings that open logins ("permitrootlogin" -> "yes", …), lower case; empty
  // unless the file is an sshd configuration.
  std::optional<std::map<std::string, std::string>> sshd_config;
  // Language packages the file describes (an installed package.json, a dist-info METADATA, a Go
  // binary's modules, a jar's artifacts).
  std::vector<AppPackage> app_packages;
  // npm's word on dev dependencies: an app's package.json (devDependencies names) or a
  // lockfile ("node_modules/…" paths marked dev).
  std::optional<std::vector<std::string>> npm_dev_dependencies, npm_lock_dev;
  std::string archive_error;  // a Java archive that could not be read: why
  // Results of analysers that are not built in, keyed by result name: a new analyser records
  // what it learns here without a change to this model, and it is stored with the rest.
  nlohmann::json extra = nlohmann::json::object();

  bool empty() const;
  bool has(FileTag t) const;
};

// {"permitted": ["cap_net_raw", …], "inheritable": […], "effective": bool}
nlohmann::json caps_json(const FileCaps& c);
FileCaps caps_from_json(const nlohmann::json& j);

void to_json(nlohmann::json& j, const FileInfo& info);
void from_json(const nlohmann::json& j, FileInfo& info);

// --- The merged image ------------------------------------------------------------------------

// A file of the final filesystem and the layer that introduced it.
struct FileRef {
  std::string path;
  std::uint32_t mode = 0;
  std::int64_t uid = 0, gid = 0;
  std::string layer_digest;
  std::string link;
};

struct SetuidFile {
  FileRef file;
  bool setuid = false, setgid = false;
};

struct CapabilityFile {
  FileRef file;
  FileCaps caps;
};

struct InstalledPackage {
  Package package;
  std::string db;  // the database file that lists it
  std::string layer_digest;
};

struct InstalledAppPackage {
  AppPackage package;
  std::string path;  // the file that describes it
  std::string layer_digest;
  bool dev = false;  // npm: installed as a dev dependency of the app
};

struct PackageDbFile {
  PackageDb db;
  std::string path, layer_digest;
};

// Secrets found in one file. For deleted_secrets, a file a later layer removed: still in its
// own layer's blob.
struct SecretFile {
  std::string path, layer_digest;
  std::vector<SecretFinding> findings;
  bool credential_file = false;  // deleted_secrets only: a credential file by name
};

struct Executable {
  FileRef file;
  ElfInfo elf;
};

struct ScriptFile {
  FileRef file;
  ScriptInfo script;
};

struct SshdConfigFile {
  FileRef file;
  std::map<std::string, std::string> settings;
};

struct UnanalysedLayer {
  std::string layer_digest;
  std::string status;  // layer_status_name()
  std::string reason;
};

// The programs an attacker with a foothold would use, by the tag that finds them.
struct AttackSurface {
  std::vector<FileRef> shell, package_manager, network_tool, debug_tool, toolchain, sshd, sudo;
  // The list a tag goes to; null for tags that are not attack surface.
  std::vector<FileRef>* list(FileTag t);
  const std::vector<FileRef>* list(FileTag t) const;
};

struct ImageSummary {
  std::optional<OsInfo> os;
  std::string os_layer_digest;  // the highest layer with a release file; empty: none
  std::vector<InstalledPackage> packages;
  std::vector<InstalledAppPackage> app_packages;
  std::vector<PackageDbFile> package_dbs;
  std::vector<Account> accounts;
  std::vector<Group> groups;
  std::vector<PasswordEntry> passwords;
  std::map<std::string, std::string> account_files;  // etc/passwd|group|shadow -> layer digest
  AttackSurface attack_surface;
  std::vector<std::string> runtimes;  // "java", "node", "python"; sorted
  bool ca_certificates = false, tzdata = false;
  std::vector<SetuidFile> setuid_files;
  std::vector<CapabilityFile> capability_files;
  std::vector<FileRef> world_writable, unneeded_files, credential_files;
  std::vector<FileRef> package_caches;   // what a package manager downloaded and kept
  std::vector<FileRef> authorized_keys;  // ~/.ssh/authorized_keys(2) of any account
  std::vector<SecretFile> secrets, deleted_secrets;
  std::vector<Executable> executables;
  std::vector<ScriptFile> scripts;
  std::vector<SshdConfigFile> sshd_configs;  // sshd_config.d files first, as sshd reads them
  std::vector<UnanalysedLayer> unanalysed_layers;
};

// Whether the image has C library `libc` (glibc or musl) for dynamic executables to load: its
// package (libc6, glibc, musl), or glibc's libc.so.6 itself.
bool has_libc(const ImageSummary& s, Libc libc);

// How many packages of each kind: {"dpkg": 92, "npm": 41, "pypi": 7, …}.
nlohmann::json packages_by_ecosystem(const ImageSummary& s);

void to_json(nlohmann::json& j, const ImageSummary& s);
void from_json(const nlohmann::json& j, ImageSummary& s);

}  // namespace bw
