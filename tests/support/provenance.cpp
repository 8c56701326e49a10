#include "provenance.h"

#include <set>
#include <string>

namespace bw::test {

nlohmann::json without_provenance(const nlohmann::json& j) {
  static const std::set<std::string> kDrop = {
      "analyzed_at",        "digest", "layer_digest",    "media_type",    "compression",
      "compressed_size",    "image",  "manifest_digest", "config_digest", "created_at",
      "uncompressed_bytes", "layers"};
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : j.items())
      if (!kDrop.count(k)) out[k] = without_provenance(v);
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& v : j) out.push_back(without_provenance(v));
    return out;
  }
  return j;
}

}  // namespace bw::test
