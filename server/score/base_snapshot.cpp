#include "score/base_snapshot.h"

#include "common/digest.h"
#include "common/time_util.h"
#include "layer/layer.h"

namespace bw {

using nlohmann::json;

namespace {

json image_json(const ImageRecord& r) {
  json layers = json::array();
  for (auto& l : r.layers)
    layers.push_back({{"digest", l.digest},
                      {"media_type", l.media_type},
                      {"size", l.size},
                      {"diff_id", l.diff_id}});
  return json{{"media_type", r.media_type},
              {"config_digest", r.config_digest},
              {"os", r.os},
              {"architecture", r.architecture},
              {"variant", r.variant},
              {"created", r.created},
              {"user", r.user},
              {"config", r.config},
              {"manifest", r.manifest},
              {"layers", std::move(layers)}};
}

ImageRecord image_of(const std::string& digest, const json& j) {
  ImageRecord r;
  r.manifest_digest = digest;
  r.media_type = j.at("media_type").get<std::string>();
  r.config_digest = j.at("config_digest").get<std::string>();
  r.os = j.at("os").get<std::string>();
  r.architecture = j.at("architecture").get<std::string>();
  r.variant = j.at("variant").get<std::string>();
  r.created = j.at("created").get<std::string>();
  r.user = j.at("user").get<std::string>();
  r.config = j.at("config").get<std::string>();
  r.manifest = j.at("manifest").get<std::string>();
  for (auto& l : j.at("layers"))
    r.layers.push_back({l.at("digest").get<std::string>(), l.at("media_type").get<std::string>(),
                        l.at("size").get<std::int64_t>(), l.at("diff_id").get<std::string>()});
  return r;
}

// One base of a snapshot, checked before anything of it is stored: the manifest is the one its
// digest names, and the image's layers are the ones whose facts come with it.
Result<std::pair<ImageRecord, std::vector<LayerRecord>>> base_of(const json& b) {
  const std::string digest = b.at("manifest_digest").get<std::string>();
  ImageRecord image = image_of(digest, b.at("image"));
  if (!is_valid_digest(digest) || sha256_digest(image.manifest) != digest)
    return make_error(Errc::bad_request, "its manifest is not the one " + digest + " names");
  std::vector<LayerRecord> layers;
  for (auto& l : b.at("layers")) {
    auto facts = layer_facts_from_json(l.at("facts"));
    if (!facts) return facts.error();
    layers.push_back({l.at("digest").get<std::string>(), l.at("media_type").get<std::string>(),
                      l.at("analyzer_version").get<int>(), l.at("analyzed_at").get<std::string>(),
                      std::move(*facts)});
    if (layers.back().analyzer_version != kAnalyzerVersion)
      return make_error(Errc::conflict, "its facts were written by analyser version " +
                                            std::to_string(layers.back().analyzer_version) +
                                            ", this is " + std::to_string(kAnalyzerVersion) +
                                            ": measure it again");
  }
  if (layers.size() != image.layers.size())
    return make_error(Errc::bad_request, "it names " + std::to_string(image.layers.size()) +
                                             " layers and has facts for " +
                                             std::to_string(layers.size()));
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i].digest != image.layers[i].digest)
      return make_error(Errc::bad_request, "its layer " + std::to_string(i) + " is " +
                                               image.layers[i].digest + ", its facts " +
                                               layers[i].digest + "'s");
  return std::pair{std::move(image), std::move(layers)};
}

}  // namespace

Result<json> export_base_snapshot(
    Store& store, const std::vector<std::pair<std::string, std::string>>& references) {
  json bases = json::array();
  for (auto& [id, reference] : references) {
    auto scans = store.list_scans(ScanQuery{ScanStatus::done, reference, 1, ""});
    if (!scans) return scans.error();
    if (scans->empty() || scans->front().manifest_digest.empty()) continue;
    const ScanRecord& last = scans->front();
    auto image = store.get_image(last.manifest_digest);
    if (!image) return image.error();
    if (!*image) continue;
    std::vector<std::string> digests;
    for (auto& l : (*image)->layers) digests.push_back(l.digest);
    auto layers = store.get_layers(digests);
    if (!layers) return layers.error();
    json facts = json::array();
    for (auto& l : *layers) {
      if (!l) return make_error(Errc::internal, "base " + id + " names a layer not stored");
      facts.push_back({{"digest", l->digest},
                       {"media_type", l->media_type},
                       {"analyzer_version", l->analyzer_version},
                       {"analyzed_at", l->analyzed_at},
                       {"facts", to_json(l->facts)}});
    }
    bases.push_back({{"id", id},
                     {"reference", reference},
                     {"manifest_digest", last.manifest_digest},
                     {"measured_at", last.finished_at},
                     {"image", image_json(**image)},
                     {"layers", std::move(facts)}});
  }
  return json{{"format", kSnapshotFormat},
              {"analyzer_version", kAnalyzerVersion},
              {"produced_at", now_rfc3339()},
              {"bases", std::move(bases)}};
}

Result<SnapshotImport> import_base_snapshot(
    Store& store, const json& snapshot,
    const std::vector<std::pair<std::string, std::string>>& references) {
  if (!snapshot.is_object() || snapshot.value("format", "") != kSnapshotFormat ||
      !snapshot.contains("bases") || !snapshot["bases"].is_array())
    return make_error(Errc::bad_request, std::string("not a snapshot of measured bases (format ") +
                                             kSnapshotFormat + ")");
  SnapshotImport out;
  for (auto& b : snapshot["bases"]) {
    const std::string id = b.is_object() ? b.value("id", "") : "";
    std::string reference;
    for (auto& [rid, ref] : references)
      if (rid == id) reference = ref;
    if (reference.empty()) {
      out.skipped.push_back(id + ": no candidate of this daemon's catalog has that id");
      continue;
    }
    // A scan of its own wins over any snapshot; a snapshot loaded before is loaded again.
    auto scanned = store.list_scans(ScanQuery{ScanStatus::done, reference, 1, ""});
    if (!scanned) return scanned.error();
    if (!scanned->empty()) {
      out.skipped.push_back(id + ": measured here (" + reference + ")");
      continue;
    }
    Result<std::pair<ImageRecord, std::vector<LayerRecord>>> base =
        make_error(Errc::bad_request, "unreadable");
    try {
      base = base_of(b);
    } catch (const json::exception& e) {
      base = make_error(Errc::bad_request, std::string("malformed: ") + e.what());
    }
    if (!base) {
      out.skipped.push_back(id + ": " + base.error().message);
      continue;
    }
    auto& [image, layers] = *base;
    for (auto& l : layers)
      if (auto put = store.put_layer(l); !put) return put.error();
    if (auto put = store.put_image(image, std::nullopt); !put) return put.error();
    if (auto put = store.put_reference_image(reference, image.manifest_digest); !put)
      return put.error();
    out.imported.push_back({id, reference, b.value("reference", ""), image.manifest_digest,
                            b.value("measured_at", "")});
  }
  return out;
}

}  // namespace bw
