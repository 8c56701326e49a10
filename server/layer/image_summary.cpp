#include "layer/image_summary.h"

#include "analyze/os_release.h"
#include "layer/merge.h"

#include <set>

namespace bw {

using nlohmann::json;

namespace {

json file_ref(const MergedFile& m, const std::vector<std::string>& digests) {
  json j = {{"path", m.entry.path},
            {"mode", m.entry.mode},
            {"uid", m.entry.uid},
            {"gid", m.entry.gid},
            {"layer_digest", digests.at(m.layer_index)}};
  if (!m.entry.link.empty()) j["link"] = m.entry.link;
  return j;
}

}  // namespace

json summarize_image(const std::vector<const LayerFacts*>& layers,
                     const std::vector<std::string>& digests) {
  auto merged = merge_layers(layers);
  json surface = {{"shell", json::array()},        {"package_manager", json::array()},
                  {"network_tool", json::array()}, {"debug_tool", json::array()},
                  {"toolchain", json::array()},    {"sshd", json::array()},
                  {"sudo", json::array()}};
  json packages = json::array(), dbs = json::array(), setuid = json::array(),
       writable = json::array();
  json unneeded = json::array(), credentials = json::array(), secrets = json::array(),
       executables = json::array();
  json accounts = json::array(), groups = json::array(), shadow = json::array();
  json account_files = json::object();
  std::set<std::string> runtimes;
  bool ca = false, tz = false;
  std::vector<OsInfo> os_found;
  long os_layer = -1;
  std::set<std::pair<std::size_t, std::string>> surviving;
  for (auto& m : merged) {
    const auto& e = m.entry;
    const json& info = e.info;
    surviving.insert({m.layer_index, e.path});
    if (e.kind == 'f' && (e.mode & 06000)) {
      json f = file_ref(m, digests);
      f["setuid"] = (e.mode & 04000) != 0;
      f["setgid"] = (e.mode & 02000) != 0;
      setuid.push_back(std::move(f));
    }
    if (e.kind != 'l' && (e.mode & 0002) && !(e.kind == 'd' && (e.mode & 01000)))
      writable.push_back(file_ref(m, digests));
    if (auto t = info.find("tags"); t != info.end()) {
      for (auto& tag : *t) {
        std::string name = tag;
        if (surface.contains(name))
          surface[name].push_back(file_ref(m, digests));
        else if (name == "unneeded")
          unneeded.push_back(file_ref(m, digests));
        else if (name == "credential_file")
          credentials.push_back(file_ref(m, digests));
        else if (name.starts_with("runtime:"))
          runtimes.insert(name.substr(8));
        else if (name == "ca_certificates")
          ca = true;
        else if (name == "tzdata")
          tz = true;
      }
    }
    if (info.contains("os") || info.contains("os_error"))
      os_layer = std::max<long>(os_layer, static_cast<long>(m.layer_index));
    if (auto os = info.find("os"); os != info.end())
      os_found.push_back(
          OsInfo{os->value("family", ""), os->value("name", ""), os->value("pretty_name", "")});
    if (auto db = info.find("package_db"); db != info.end()) {
      json d = *db;
      d["path"] = e.path;
      d["layer_digest"] = digests.at(m.layer_index);
      dbs.push_back(std::move(d));
    }
    if (auto pk = info.find("packages"); pk != info.end())
      for (auto p : *pk) {
        p["db"] = e.path;
        p["layer_digest"] = digests.at(m.layer_index);
        packages.push_back(std::move(p));
      }
    if (e.path == "etc/passwd" || e.path == "etc/group" || e.path == "etc/shadow")
      account_files[e.path] = digests.at(m.layer_index);
    if (e.path == "etc/passwd" && info.contains("accounts")) accounts = info["accounts"];
    if (e.path == "etc/group" && info.contains("groups")) groups = info["groups"];
    if (e.path == "etc/shadow" && info.contains("shadow")) shadow = info["shadow"];
    if (auto s = info.find("secrets"); s != info.end())
      secrets.push_back(
          {{"path", e.path}, {"layer_digest", digests.at(m.layer_index)}, {"findings", *s}});
    if (auto elf = info.find("elf"); elf != info.end() && elf->value("kind", "") == "executable") {
      json x = file_ref(m, digests);
      x["elf"] = *elf;
      executables.push_back(std::move(x));
    }
  }
  // Secrets and credential files that a later layer removed or replaced stay in the earlier
  // layer's blob, readable by anyone who pulls the image.
  json deleted = json::array();
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (auto& e : layers[i]->files) {
      if (surviving.count({i, e.path})) continue;
      bool cred = e.info.contains("tags") && std::find(e.info["tags"].begin(), e.info["tags"].end(),
                                                       "credential_file") != e.info["tags"].end();
      if (!e.info.contains("secrets") && !cred) continue;
      json d = {{"path", e.path}, {"layer_digest", digests.at(i)}, {"credential_file", cred}};
      if (e.info.contains("secrets")) d["findings"] = e.info["secrets"];
      deleted.push_back(std::move(d));
    }
  json out;
  auto os = merge_os(os_found);
  out["os"] = os ? to_json(*os) : json(nullptr);
  if (os_layer >= 0) out["os_layer_digest"] = digests.at(static_cast<std::size_t>(os_layer));
  out["package_count"] = packages.size();
  out["packages"] = std::move(packages);
  out["package_dbs"] = std::move(dbs);
  out["accounts"] = std::move(accounts);
  out["groups"] = std::move(groups);
  out["passwords"] = std::move(shadow);
  out["account_files"] = std::move(account_files);
  out["attack_surface"] = std::move(surface);
  out["runtimes"] = json(std::vector<std::string>(runtimes.begin(), runtimes.end()));
  out["ca_certificates"] = ca;
  out["tzdata"] = tz;
  out["setuid_files"] = std::move(setuid);
  out["world_writable"] = std::move(writable);
  out["unneeded_files"] = std::move(unneeded);
  out["credential_files"] = std::move(credentials);
  out["secrets"] = std::move(secrets);
  out["deleted_secrets"] = std::move(deleted);
  out["executables"] = std::move(executables);
  // Layers whose content was not fully read: whatever they hold is unknown (fail closed).
  json unanalysed = json::array();
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i]->status != LayerStatus::complete)
      unanalysed.push_back({{"layer_digest", digests.at(i)},
                            {"status", layer_status_name(layers[i]->status)},
                            {"reason", layers[i]->status_reason}});
  out["unanalysed_layers"] = std::move(unanalysed);
  return out;
}

}  // namespace bw
