#include "layer/image_summary.h"

#include "analyze/os_release.h"
#include "common/text.h"
#include "layer/merge.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

namespace bw {

namespace {

FileRef file_ref(const MergedFile& m, const std::vector<std::string>& digests) {
  return FileRef{
      m.entry->path, m.entry->mode, m.entry->uid, m.entry->gid, digests.at(m.layer_index),
      m.entry->link};
}

std::string_view dir_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string joined(std::string_view dir, std::string_view rest) {
  return dir.empty() ? std::string(rest) : std::string(dir) + "/" + std::string(rest);
}

// The package.json paths of the npm packages installed as dev dependencies. A lockfile says it
// for every installed path (node_modules/.package-lock.json for node_modules itself); without
// one, the app's package.json names its direct dev dependencies.
std::set<std::string> npm_dev_manifests(const std::vector<MergedFile>& files) {
  std::set<std::string> out, locked_roots;
  for (auto& m : files) {
    if (!m.entry->info.npm_lock_dev) continue;
    std::string_view dir = dir_of(m.entry->path);
    std::string_view root = path_base_name(dir) == "node_modules" ? dir_of(dir) : dir;
    locked_roots.insert(std::string(root));
    for (auto& p : *m.entry->info.npm_lock_dev) out.insert(joined(root, p + "/package.json"));
  }
  for (auto& m : files) {
    if (!m.entry->info.npm_dev_dependencies) continue;
    std::string_view root = dir_of(m.entry->path);
    if (locked_roots.count(std::string(root))) continue;
    for (auto& name : *m.entry->info.npm_dev_dependencies)
      out.insert(joined(root, "node_modules/" + name + "/package.json"));
  }
  return out;
}

}  // namespace

ImageSummary summarize_image(const std::vector<const LayerFacts*>& layers,
                             const std::vector<std::string>& digests) {
  ImageSummary out;
  std::set<std::string> runtimes;
  std::vector<OsInfo> os_found;
  long os_layer = -1;
  // Each package belongs to the layer where it first appears, not to the last layer that
  // rewrote the database (an apt-get install rewrites all of dpkg's status).
  std::map<std::string, std::size_t> first_seen;
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (auto& e : layers[i]->files)
      for (auto& p : e.info.packages) first_seen.emplace(p.manager + "\n" + p.name, i);
  std::vector<MergedFile> merged = merge_layers(layers);
  std::set<std::string> npm_dev = npm_dev_manifests(merged);
  for (auto& m : merged) {
    const FileEntry& e = *m.entry;
    const FileInfo& info = e.info;
    const std::string& digest = digests.at(m.layer_index);
    if (e.kind == 'f' && (e.mode & 06000))
      out.setuid_files.push_back(
          SetuidFile{file_ref(m, digests), (e.mode & 04000) != 0, (e.mode & 02000) != 0});
    if (e.caps && (e.caps->permitted || e.caps->inheritable))
      out.capability_files.push_back(CapabilityFile{file_ref(m, digests), *e.caps});
    if (e.kind != 'l' && (e.mode & 0002) && !(e.kind == 'd' && (e.mode & 01000)))
      out.world_writable.push_back(file_ref(m, digests));
    for (FileTag tag : info.tags) {
      if (auto* list = out.attack_surface.list(tag))
        list->push_back(file_ref(m, digests));
      else if (tag == FileTag::unneeded)
        out.unneeded_files.push_back(file_ref(m, digests));
      else if (tag == FileTag::credential_file)
        out.credential_files.push_back(file_ref(m, digests));
      else if (tag == FileTag::package_cache)
        out.package_caches.push_back(file_ref(m, digests));
      else if (tag == FileTag::ssh_authorized_keys)
        out.authorized_keys.push_back(file_ref(m, digests));
      else if (!runtime_of(tag).empty())
        runtimes.insert(std::string(runtime_of(tag)));
      else if (tag == FileTag::ca_certificates)
        out.ca_certificates = true;
      else if (tag == FileTag::tzdata)
        out.tzdata = true;
    }
    if (info.os || !info.os_error.empty())
      os_layer = std::max<long>(os_layer, static_cast<long>(m.layer_index));
    if (info.os) os_found.push_back(*info.os);
    if (info.package_db) out.package_dbs.push_back(PackageDbFile{*info.package_db, e.path, digest});
    for (auto& p : info.packages) {
      auto first = first_seen.find(p.manager + "\n" + p.name);
      std::size_t at =
          first == first_seen.end() ? m.layer_index : std::min(first->second, m.layer_index);
      out.packages.push_back(InstalledPackage{p, e.path, digests.at(at)});
    }
    for (auto& p : info.app_packages)
      out.app_packages.push_back(InstalledAppPackage{
          p, e.path, digest, p.dev || (p.ecosystem == "npm" && npm_dev.count(e.path) > 0)});
    if (e.path == "etc/passwd" || e.path == "etc/group" || e.path == "etc/shadow")
      out.account_files[e.path] = digest;
    if (e.path == "etc/passwd" && info.accounts) out.accounts = *info.accounts;
    if (e.path == "etc/group" && info.groups) out.groups = *info.groups;
    if (e.path == "etc/shadow" && info.shadow) out.passwords = *info.shadow;
    if (!info.secrets.empty()) out.secrets.push_back(SecretFile{e.path, digest, info.secrets});
    if (info.elf && info.elf->kind == ElfKind::executable)
      out.executables.push_back(Executable{file_ref(m, digests), *info.elf});
    if (info.script) out.scripts.push_back(ScriptFile{file_ref(m, digests), *info.script});
    if (info.sshd_config)
      out.sshd_configs.push_back(SshdConfigFile{file_ref(m, digests), *info.sshd_config});
  }
  // Secrets and credential files that a later layer removed or replaced stay in the earlier
  // layer's blob, readable by anyone who pulls the image.
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (auto& e : layers[i]->files) {
      bool cred = e.info.has(FileTag::credential_file);
      if (e.info.secrets.empty() && !cred) continue;
      // Shown by the final filesystem as this layer wrote it: not deleted.
      auto shown = std::lower_bound(
          merged.begin(), merged.end(), std::string_view(e.path),
          [](const MergedFile& m, std::string_view path) { return m.entry->path < path; });
      if (shown != merged.end() && shown->entry->path == e.path && shown->layer_index == i)
        continue;
      out.deleted_secrets.push_back(SecretFile{e.path, digests.at(i), e.info.secrets, cred});
    }
  // sshd reads its .d files (included at the top of Debian's sshd_config) before the main file.
  std::stable_partition(
      out.sshd_configs.begin(), out.sshd_configs.end(),
      [](const SshdConfigFile& f) { return f.file.path != "etc/ssh/sshd_config"; });
  out.os = merge_os(os_found);
  if (os_layer >= 0) out.os_layer_digest = digests.at(static_cast<std::size_t>(os_layer));
  out.runtimes.assign(runtimes.begin(), runtimes.end());
  // Layers whose content was not fully read: whatever they hold is unknown (fail closed).
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i]->status != LayerStatus::complete)
      out.unanalysed_layers.push_back(
          UnanalysedLayer{digests.at(i), std::string(layer_status_name(layers[i]->status)),
                          layers[i]->status_reason});
  return out;
}

}  // namespace bw
