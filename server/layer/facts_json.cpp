#include "layer/layer.h"

namespace bw {

using nlohmann::json;

nlohmann::json to_json(const FileEntry& e) {
  json j = {{"path", e.path}, {"kind", std::string(1, e.kind)},
            {"mode", e.mode}, {"uid", e.uid},
            {"gid", e.gid},   {"size", e.size}};
  if (!e.link.empty()) j["link"] = e.link;
  if (e.caps) j["caps"] = caps_json(*e.caps);
  if (!e.info.empty()) j["info"] = e.info;
  return j;
}

nlohmann::json to_json(const LayerFacts& f) {
  json files = json::array();
  for (auto& e : f.files) files.push_back(to_json(e));
  json whiteouts = json::array();
  for (auto& w : f.whiteouts) whiteouts.push_back({{"path", w.path}, {"opaque", w.opaque}});
  json out = {{"compression", f.compression},
              {"compressed_size", f.compressed_size},
              {"uncompressed_size", f.uncompressed_size},
              {"diff_id", f.diff_id},
              {"entry_count", f.entry_count},
              {"skipped_entries", f.skipped_entries},
              {"status", layer_status_name(f.status)},
              {"files", std::move(files)},
              {"notable_dropped", f.notable_dropped},
              {"whiteouts", std::move(whiteouts)}};
  if (!f.status_reason.empty()) out["status_reason"] = f.status_reason;
  if (!f.analyzer_versions.empty()) out["analyzer_versions"] = f.analyzer_versions;
  return out;
}

Result<LayerFacts> layer_facts_from_json(const nlohmann::json& j) {
  try {
    LayerFacts f;
    f.compression = j.at("compression").get<std::string>();
    f.compressed_size = j.at("compressed_size").get<std::uint64_t>();
    f.uncompressed_size = j.at("uncompressed_size").get<std::uint64_t>();
    f.diff_id = j.at("diff_id").get<std::string>();
    f.entry_count = j.at("entry_count").get<std::uint64_t>();
    f.skipped_entries = j.value("skipped_entries", std::uint64_t{0});
    std::string status = j.at("status").get<std::string>();
    for (auto s : {LayerStatus::complete, LayerStatus::limit_exceeded, LayerStatus::invalid,
                   LayerStatus::skipped})
      if (layer_status_name(s) == status) f.status = s;
    f.status_reason = j.value("status_reason", "");
    for (auto& e : j.at("files")) {
      FileEntry fe;
      fe.path = e.at("path").get<std::string>();
      fe.kind = e.at("kind").get<std::string>().at(0);
      fe.mode = e.at("mode").get<std::uint32_t>();
      fe.uid = e.at("uid").get<std::int64_t>();
      fe.gid = e.at("gid").get<std::int64_t>();
      fe.size = e.at("size").get<std::uint64_t>();
      fe.link = e.value("link", "");
      if (auto c = e.find("caps"); c != e.end() && c->is_object()) fe.caps = caps_from_json(*c);
      if (auto it = e.find("info"); it != e.end() && it->is_object()) fe.info = it->get<FileInfo>();
      f.files.push_back(std::move(fe));
    }
    f.notable_dropped = j.value("notable_dropped", std::uint64_t{0});
    if (auto v = j.find("analyzer_versions"); v != j.end() && v->is_object())
      for (auto& [name, version] : v->items())
        if (version.is_number_integer()) f.analyzer_versions[name] = version.get<int>();
    for (auto& w : j.at("whiteouts"))
      f.whiteouts.push_back({w.at("path").get<std::string>(), w.at("opaque").get<bool>()});
    return f;
  } catch (const json::exception& e) {
    return make_error(Errc::internal, std::string("stored layer facts do not parse: ") + e.what());
  }
}

}  // namespace bw
