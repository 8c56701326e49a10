#include "analyze/facts.h"

#include "common/enum_names.h"

#include <algorithm>
#include <array>

namespace bw {

using nlohmann::json;

namespace {

constexpr EnumNames<FileTag, 16> kTagNames{
    {"shell", "package_manager", "network_tool", "debug_tool", "toolchain", "sshd", "sudo",
     "unneeded", "credential_file", "runtime:java", "runtime:python", "runtime:node",
     "ca_certificates", "tzdata", "ssh_authorized_keys", "package_cache"}};

// Keys FileInfo owns; any other key of a stored "info" object belongs to `extra`.
constexpr std::array<std::string_view, 16> kInfoKeys = {"tags",         "os",
                                                        "os_error",     "package_db",
                                                        "packages",     "accounts",
                                                        "groups",       "shadow",
                                                        "secrets",      "elf",
                                                        "script",       "sshd_config",
                                                        "app_packages", "npm_dev_dependencies",
                                                        "npm_lock_dev", "archive_error"};

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <typename T, typename F>
std::vector<T> list_of(const json& j, const char* key, F&& parse) {
  std::vector<T> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (auto& x : *it)
    if (x.is_object()) out.push_back(parse(x));
  return out;
}

// A list of strings, or nullopt when the key is absent.
std::optional<std::vector<std::string>> strings_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& x : *it)
    if (x.is_string()) out.push_back(x);
  return out;
}

// Each element of `v` as `f` writes it.
template <typename T, typename F>
json array_of(const std::vector<T>& v, F&& f) {
  json a = json::array();
  for (auto& x : v) a.push_back(f(x));
  return a;
}

json file_ref_json(const FileRef& f) {
  json j = {{"path", f.path},
            {"mode", f.mode},
            {"uid", f.uid},
            {"gid", f.gid},
            {"layer_digest", f.layer_digest}};
  if (!f.link.empty()) j["link"] = f.link;
  return j;
}

FileRef file_ref_from(const json& j) {
  return FileRef{str(j, "path"),
                 j.value("mode", 0u),
                 j.value("uid", std::int64_t{0}),
                 j.value("gid", std::int64_t{0}),
                 str(j, "layer_digest"),
                 str(j, "link")};
}

json accounts_json(const std::vector<Account>& v) {
  return array_of(v, [](const Account& x) {
    return json{
        {"name", x.name}, {"uid", x.uid}, {"gid", x.gid}, {"home", x.home}, {"shell", x.shell}};
  });
}
Account account_from(const json& j) {
  return {str(j, "name"), str(j, "uid"), str(j, "gid"), str(j, "home"), str(j, "shell")};
}
json groups_json(const std::vector<Group>& v) {
  return array_of(v, [](const Group& x) { return json{{"name", x.name}, {"gid", x.gid}}; });
}
Group group_from(const json& j) {
  return {str(j, "name"), str(j, "gid")};
}
json passwords_json(const std::vector<PasswordEntry>& v) {
  return array_of(v, [](const PasswordEntry& x) {
    return json{{"name", x.name}, {"password", x.password}};
  });
}
PasswordEntry password_from(const json& j) {
  // An unknown state reads as locked, the first of the enum's JSON names.
  return PasswordEntry{str(j, "name"), j.value("password", PasswordState::locked)};
}
json secrets_json(const std::vector<SecretFinding>& v) {
  return array_of(v, [](const SecretFinding& f) { return to_json(f); });
}
json package_db_json(const PackageDb& d) {
  json j = {{"kind", d.kind}, {"parsed", d.parsed}};
  if (!d.reason.empty()) j["reason"] = d.reason;
  return j;
}
json script_json(const ScriptInfo& s) {
  json j = {{"interpreter", s.interpreter}};
  if (!s.calls.empty()) j["calls"] = s.calls;
  return j;
}
ScriptInfo script_from(const json& j) {
  ScriptInfo s{str(j, "interpreter"), {}};
  if (auto c = j.find("calls"); c != j.end() && c->is_array())
    for (auto& x : *c)
      if (x.is_string()) s.calls.push_back(x);
  return s;
}
PackageDb package_db_from(const json& j) {
  return {str(j, "kind"), j.value("parsed", false), str(j, "reason")};
}

}  // namespace

json caps_json(const FileCaps& c) {
  return json{{"permitted", cap_names(c.permitted)},
              {"inheritable", cap_names(c.inheritable)},
              {"effective", c.effective}};
}

FileCaps caps_from_json(const json& j) {
  auto names = [&](const char* key) {
    std::vector<std::string> out;
    if (auto it = j.find(key); it != j.end() && it->is_array())
      for (auto& x : *it)
        if (x.is_string()) out.push_back(x);
    return out;
  };
  return FileCaps{cap_bits(names("permitted")), cap_bits(names("inheritable")),
                  j.value("effective", false)};
}

std::string_view tag_name(FileTag t) {
  return kTagNames.name(t);
}

std::optional<FileTag> tag_from_name(std::string_view name) {
  return kTagNames.parse(name);
}

std::string_view runtime_of(FileTag t) {
  std::string_view n = tag_name(t);
  return n.starts_with("runtime:") ? n.substr(8) : std::string_view();
}

bool FileInfo::empty() const {
  return tags.empty() && !os && os_error.empty() && !package_db && packages.empty() && !accounts &&
         !groups && !shadow && secrets.empty() && !elf && !script && !sshd_config &&
         app_packages.empty() && !npm_dev_dependencies && !npm_lock_dev && archive_error.empty() &&
         extra.empty();
}

bool FileInfo::has(FileTag t) const {
  return std::find(tags.begin(), tags.end(), t) != tags.end();
}

void to_json(json& j, const FileInfo& info) {
  j = info.extra.is_object() ? info.extra : json::object();
  if (!info.tags.empty()) j["tags"] = info.tags;  // by name (to_json(FileTag))
  if (info.os) j["os"] = to_json(*info.os);
  if (!info.os_error.empty()) j["os_error"] = info.os_error;
  if (info.package_db) j["package_db"] = package_db_json(*info.package_db);
  if (info.package_db && info.package_db->parsed)
    j["packages"] = array_of(info.packages, [](const Package& p) { return to_json(p); });
  if (info.accounts) j["accounts"] = accounts_json(*info.accounts);
  if (info.groups) j["groups"] = groups_json(*info.groups);
  if (info.shadow) j["shadow"] = passwords_json(*info.shadow);
  if (!info.secrets.empty()) j["secrets"] = secrets_json(info.secrets);
  if (info.elf) j["elf"] = *info.elf;
  if (info.script) j["script"] = script_json(*info.script);
  if (info.sshd_config) j["sshd_config"] = *info.sshd_config;
  if (!info.app_packages.empty())
    j["app_packages"] = array_of(info.app_packages, [](const AppPackage& p) { return to_json(p); });
  if (info.npm_dev_dependencies) j["npm_dev_dependencies"] = *info.npm_dev_dependencies;
  if (info.npm_lock_dev) j["npm_lock_dev"] = *info.npm_lock_dev;
  if (!info.archive_error.empty()) j["archive_error"] = info.archive_error;
}

void from_json(const json& j, FileInfo& info) {
  info = FileInfo{};
  if (!j.is_object()) return;
  if (auto t = j.find("tags"); t != j.end() && t->is_array())
    for (auto& name : *t)
      if (name.is_string())
        if (auto tag = tag_from_name(name.get_ref<const std::string&>())) info.tags.push_back(*tag);
  if (auto os = j.find("os"); os != j.end() && os->is_object()) info.os = os_info_from_json(*os);
  info.os_error = str(j, "os_error");
  if (auto db = j.find("package_db"); db != j.end() && db->is_object())
    info.package_db = package_db_from(*db);
  info.packages = list_of<Package>(j, "packages", package_from_json);
  if (j.contains("accounts")) info.accounts = list_of<Account>(j, "accounts", account_from);
  if (j.contains("groups")) info.groups = list_of<Group>(j, "groups", group_from);
  if (j.contains("shadow")) info.shadow = list_of<PasswordEntry>(j, "shadow", password_from);
  info.secrets = list_of<SecretFinding>(j, "secrets", secret_finding_from_json);
  if (auto e = j.find("elf"); e != j.end() && e->is_object()) info.elf = e->get<ElfInfo>();
  if (auto sc = j.find("script"); sc != j.end() && sc->is_object()) info.script = script_from(*sc);
  if (auto sc = j.find("sshd_config"); sc != j.end() && sc->is_object()) {
    info.sshd_config.emplace();
    for (auto& [k, v] : sc->items())
      if (v.is_string()) (*info.sshd_config)[k] = v;
  }
  info.app_packages = list_of<AppPackage>(j, "app_packages", app_package_from_json);
  info.npm_dev_dependencies = strings_of(j, "npm_dev_dependencies");
  info.npm_lock_dev = strings_of(j, "npm_lock_dev");
  info.archive_error = str(j, "archive_error");
  for (auto& [key, value] : j.items())
    if (std::find(kInfoKeys.begin(), kInfoKeys.end(), key) == kInfoKeys.end())
      info.extra[key] = value;
}

std::vector<FileRef>* AttackSurface::list(FileTag t) {
  switch (t) {
    case FileTag::shell:
      return &shell;
    case FileTag::package_manager:
      return &package_manager;
    case FileTag::network_tool:
      return &network_tool;
    case FileTag::debug_tool:
      return &debug_tool;
    case FileTag::toolchain:
      return &toolchain;
    case FileTag::sshd:
      return &sshd;
    case FileTag::sudo:
      return &sudo;
    default:
      return nullptr;
  }
}

const std::vector<FileRef>* AttackSurface::list(FileTag t) const {
  return const_cast<AttackSurface*>(this)->list(t);
}

json packages_by_ecosystem(const ImageSummary& s) {
  std::map<std::string, std::size_t> counts;
  for (auto& p : s.packages) ++counts[p.package.manager];
  for (auto& p : s.app_packages) ++counts[p.package.ecosystem];
  return counts;
}

void to_json(json& j, const ImageSummary& s) {
  // A file reference with what the list adds to it.
  auto ref_with = [](const FileRef& f, const char* key, json value) {
    json x = file_ref_json(f);
    x[key] = std::move(value);
    return x;
  };
  json surface = json::object();
  for (auto t : {FileTag::shell, FileTag::package_manager, FileTag::network_tool,
                 FileTag::debug_tool, FileTag::toolchain, FileTag::sshd, FileTag::sudo})
    surface[std::string(tag_name(t))] = array_of(*s.attack_surface.list(t), file_ref_json);
  j = json::object();
  j["os"] = s.os ? to_json(*s.os) : json(nullptr);
  if (!s.os_layer_digest.empty()) j["os_layer_digest"] = s.os_layer_digest;
  j["package_count"] = s.packages.size();
  j["packages"] = array_of(s.packages, [](const InstalledPackage& p) {
    json x = to_json(p.package);
    x["db"] = p.db;
    x["layer_digest"] = p.layer_digest;
    return x;
  });
  j["app_packages"] = array_of(s.app_packages, [](const InstalledAppPackage& p) {
    json x = to_json(p.package);
    x["path"] = p.path;
    x["layer_digest"] = p.layer_digest;
    if (p.dev) x["dev"] = true;
    return x;
  });
  j["packages_by_ecosystem"] = packages_by_ecosystem(s);
  j["package_dbs"] = array_of(s.package_dbs, [](const PackageDbFile& d) {
    json x = package_db_json(d.db);
    x["path"] = d.path;
    x["layer_digest"] = d.layer_digest;
    return x;
  });
  j["accounts"] = accounts_json(s.accounts);
  j["groups"] = groups_json(s.groups);
  j["passwords"] = passwords_json(s.passwords);
  j["account_files"] = s.account_files;
  j["attack_surface"] = std::move(surface);
  j["runtimes"] = s.runtimes;
  j["ca_certificates"] = s.ca_certificates;
  j["tzdata"] = s.tzdata;
  j["setuid_files"] = array_of(s.setuid_files, [](const SetuidFile& f) {
    json x = file_ref_json(f.file);
    x["setuid"] = f.setuid;
    x["setgid"] = f.setgid;
    return x;
  });
  j["capability_files"] = array_of(s.capability_files, [&](const CapabilityFile& f) {
    return ref_with(f.file, "capabilities", caps_json(f.caps));
  });
  j["world_writable"] = array_of(s.world_writable, file_ref_json);
  j["unneeded_files"] = array_of(s.unneeded_files, file_ref_json);
  j["credential_files"] = array_of(s.credential_files, file_ref_json);
  j["package_caches"] = array_of(s.package_caches, file_ref_json);
  j["authorized_keys"] = array_of(s.authorized_keys, file_ref_json);
  j["secrets"] = array_of(s.secrets, [](const SecretFile& f) {
    return json{
        {"path", f.path}, {"layer_digest", f.layer_digest}, {"findings", secrets_json(f.findings)}};
  });
  j["deleted_secrets"] = array_of(s.deleted_secrets, [](const SecretFile& f) {
    json x = {
        {"path", f.path}, {"layer_digest", f.layer_digest}, {"credential_file", f.credential_file}};
    if (!f.findings.empty()) x["findings"] = secrets_json(f.findings);
    return x;
  });
  j["executables"] =
      array_of(s.executables, [&](const Executable& x) { return ref_with(x.file, "elf", x.elf); });
  j["scripts"] = array_of(s.scripts, [&](const ScriptFile& x) {
    return ref_with(x.file, "script", script_json(x.script));
  });
  j["sshd_configs"] = array_of(s.sshd_configs, [&](const SshdConfigFile& x) {
    return ref_with(x.file, "settings", x.settings);
  });
  j["unanalysed_layers"] = array_of(s.unanalysed_layers, [](const UnanalysedLayer& l) {
    return json{{"layer_digest", l.layer_digest}, {"status", l.status}, {"reason", l.reason}};
  });
}

void from_json(const json& j, ImageSummary& s) {
  s = ImageSummary{};
  if (!j.is_object()) return;
  if (auto os = j.find("os"); os != j.end() && os->is_object()) s.os = os_info_from_json(*os);
  s.os_layer_digest = str(j, "os_layer_digest");
  s.packages = list_of<InstalledPackage>(j, "packages", [](const json& x) {
    return InstalledPackage{package_from_json(x), str(x, "db"), str(x, "layer_digest")};
  });
  s.app_packages = list_of<InstalledAppPackage>(j, "app_packages", [](const json& x) {
    return InstalledAppPackage{app_package_from_json(x), str(x, "path"), str(x, "layer_digest"),
                               x.value("dev", false)};
  });
  s.package_dbs = list_of<PackageDbFile>(j, "package_dbs", [](const json& x) {
    return PackageDbFile{package_db_from(x), str(x, "path"), str(x, "layer_digest")};
  });
  s.accounts = list_of<Account>(j, "accounts", account_from);
  s.groups = list_of<Group>(j, "groups", group_from);
  s.passwords = list_of<PasswordEntry>(j, "passwords", password_from);
  if (auto f = j.find("account_files"); f != j.end() && f->is_object())
    for (auto& [k, v] : f->items())
      if (v.is_string()) s.account_files[k] = v;
  if (auto a = j.find("attack_surface"); a != j.end() && a->is_object())
    for (auto& [k, v] : a->items())
      if (auto tag = tag_from_name(k); tag && s.attack_surface.list(*tag))
        *s.attack_surface.list(*tag) = list_of<FileRef>(*a, k.c_str(), file_ref_from);
  if (auto r = j.find("runtimes"); r != j.end() && r->is_array())
    for (auto& x : *r)
      if (x.is_string()) s.runtimes.push_back(x);
  s.ca_certificates = j.value("ca_certificates", false);
  s.tzdata = j.value("tzdata", false);
  s.setuid_files = list_of<SetuidFile>(j, "setuid_files", [](const json& x) {
    return SetuidFile{file_ref_from(x), x.value("setuid", false), x.value("setgid", false)};
  });
  s.capability_files = list_of<CapabilityFile>(j, "capability_files", [](const json& x) {
    auto c = x.find("capabilities");
    return CapabilityFile{file_ref_from(x),
                          c != x.end() && c->is_object() ? caps_from_json(*c) : FileCaps{}};
  });
  s.world_writable = list_of<FileRef>(j, "world_writable", file_ref_from);
  s.unneeded_files = list_of<FileRef>(j, "unneeded_files", file_ref_from);
  s.credential_files = list_of<FileRef>(j, "credential_files", file_ref_from);
  s.package_caches = list_of<FileRef>(j, "package_caches", file_ref_from);
  s.authorized_keys = list_of<FileRef>(j, "authorized_keys", file_ref_from);
  auto secret_file = [](const json& x) {
    return SecretFile{str(x, "path"), str(x, "layer_digest"),
                      list_of<SecretFinding>(x, "findings", secret_finding_from_json),
                      x.value("credential_file", false)};
  };
  s.secrets = list_of<SecretFile>(j, "secrets", secret_file);
  s.deleted_secrets = list_of<SecretFile>(j, "deleted_secrets", secret_file);
  s.executables = list_of<Executable>(j, "executables", [](const json& x) {
    ElfInfo elf;
    if (auto e = x.find("elf"); e != x.end()) elf = e->get<ElfInfo>();
    return Executable{file_ref_from(x), std::move(elf)};
  });
  s.scripts = list_of<ScriptFile>(j, "scripts", [](const json& x) {
    auto sc = x.find("script");
    return ScriptFile{file_ref_from(x),
                      sc != x.end() && sc->is_object() ? script_from(*sc) : ScriptInfo{}};
  });
  s.sshd_configs = list_of<SshdConfigFile>(j, "sshd_configs", [](const json& x) {
    SshdConfigFile f{file_ref_from(x), {}};
    if (auto st = x.find("settings"); st != x.end() && st->is_object())
      for (auto& [k, v] : st->items())
        if (v.is_string()) f.settings[k] = v;
    return f;
  });
  s.unanalysed_layers = list_of<UnanalysedLayer>(j, "unanalysed_layers", [](const json& x) {
    return UnanalysedLayer{str(x, "layer_digest"), str(x, "status"), str(x, "reason")};
  });
}

bool has_libc(const ImageSummary& s, Libc libc) {
  for (auto& p : s.packages) {
    const std::string& n = p.package.name;
    if (libc == Libc::glibc && (n == "libc6" || n == "glibc" || n == "libc")) return true;
    if (libc == Libc::musl && n == "musl") return true;
  }
  if (libc == Libc::glibc)
    for (auto& x : s.executables)
      if (x.file.path.ends_with("/libc.so.6") || x.file.path == "libc.so.6") return true;
  return false;
}

}  // namespace bw
