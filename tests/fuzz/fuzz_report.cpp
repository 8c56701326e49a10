// Image config → report, as a scan builds it: whatever the config holds, the report stays within
// its documented bounds (kMaxReportBytes, kMaxReportFindings, kMaxEvidenceText per evidence
// field). A config that amplifies (one long string echoed by several findings, a history whose
// every step trips three rules) fails here before it can fill a store.
#include "registry/manifest.h"
#include "rules/history.h"
#include "score/report.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

// Marker included: clip() adds "…[+N bytes]" past the bound.
constexpr std::size_t kEvidenceWithMarker = bw::kMaxEvidenceText + 32;

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = nlohmann::json::parse(text, nullptr, false);
  if (!config.is_object() || !bw::validate_image_config(config)) return 0;
  bw::ImageRecord image;
  image.manifest_digest = "sha256:" + std::string(64, 'a');
  image.os = "linux";
  image.architecture = "amd64";
  image.config = bw::bound_config(bw::mask_config_secrets(std::move(config)))
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  image.manifest = "{}";
  static const auto rules = bw::RuleCatalog::builtin();
  std::vector<bw::SharedLayerRecord> layers;
  std::vector<bw::Suppression> suppressions;
  std::vector<bw::ReferenceImage> references;
  auto report = bw::build_report(
      {image, layers, *rules, suppressions, references, "registry.test/app:1", "1"});
  require(report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() <=
          bw::kMaxReportBytes);
  require(report["findings"].size() <= bw::kMaxReportFindings);
  for (auto& f : report["findings"])
    for (auto& [key, value] : f["evidence"].items())
      require(!value.is_string() ||
              value.get_ref<const std::string&>().size() <= kEvidenceWithMarker);
  return 0;
}
