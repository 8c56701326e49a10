#include "api/views.h"

#include "layer/image_summary.h"
#include "layer/merge.h"

namespace bw {

using nlohmann::json;

json scan_view(const ScanRecord& s) {
  json j = {{"id", s.id},
            {"status", scan_status_name(s.status)},
            {"image", s.image},
            {"platform", s.platform},
            {"created_at", s.created_at}};
  auto progress = json::parse(s.progress.empty() ? "{}" : s.progress, nullptr, false);
  j["progress"] = progress.is_discarded() ? json::object() : progress;
  if (!s.manifest_digest.empty()) {
    j["manifest_digest"] = s.manifest_digest;
    if (s.status == ScanStatus::done) j["image_url"] = "/v1/images/" + s.manifest_digest;
  }
  if (!s.index_digest.empty()) j["index_digest"] = s.index_digest;
  if (!s.started_at.empty()) j["started_at"] = s.started_at;
  if (!s.finished_at.empty()) j["finished_at"] = s.finished_at;
  if (!s.error_code.empty()) j["error"] = {{"code", s.error_code}, {"message", s.error_message}};
  return j;
}

json layer_view(const LayerRecord& l) {
  json j = to_json(l.facts);
  j["digest"] = l.digest;
  j["media_type"] = l.media_type;
  j["analyzer_version"] = l.analyzer_version;
  j["analyzed_at"] = l.analyzed_at;
  return j;
}

Result<json> image_view(const ImageRecord& im, Store& store, std::size_t base_layers) {
  json layers = json::array();
  std::vector<LayerRecord> records;
  records.reserve(im.layers.size());
  for (std::size_t i = 0; i < im.layers.size(); ++i) {
    auto& ref = im.layers[i];
    auto rec = store.get_layer(ref.digest);
    if (!rec) return rec.error();
    if (!*rec)
      return make_error(Errc::internal,
                        "image " + im.manifest_digest + " names missing layer " + ref.digest);
    const LayerFacts& f = (*rec)->facts;
    layers.push_back({{"position", i},
                      {"digest", ref.digest},
                      {"diff_id", ref.diff_id},
                      {"media_type", ref.media_type},
                      {"size", ref.size},
                      {"uncompressed_size", f.uncompressed_size},
                      {"entry_count", f.entry_count},
                      {"status", layer_status_name(f.status)},
                      {"origin", i < base_layers ? "base" : "app"}});
    records.push_back(std::move(**rec));
  }
  std::vector<const LayerFacts*> facts;
  for (auto& r : records) facts.push_back(&r.facts);
  json files = json::array();
  for (auto& m : merge_layers(facts)) {
    json f = to_json(m.entry);
    f["layer_digest"] = im.layers[m.layer_index].digest;
    files.push_back(std::move(f));
  }
  std::vector<std::string> digests;
  for (auto& l : im.layers) digests.push_back(l.digest);
  json summary = summarize_image(facts, digests);  // the API's form of the summary
  std::string platform =
      im.os + "/" + im.architecture + (im.variant.empty() ? "" : "/" + im.variant);
  json out = {{"manifest_digest", im.manifest_digest},
              {"media_type", im.media_type},
              {"config_digest", im.config_digest},
              {"platform", platform},
              {"os", im.os},
              {"architecture", im.architecture},
              {"created", im.created},
              {"user", im.user},
              {"layers", std::move(layers)},
              {"files", std::move(files)}};
  for (auto& [k, v] : summary.items()) out[k] = v;
  return Result<json>(boost::system::in_place_value, std::move(out));
}

}  // namespace bw
