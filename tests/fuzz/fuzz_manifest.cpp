// Registry documents: a manifest or index (with each Content-Type the client meets), and the
// same bytes as an image config. A config that validates must then be safe for everything
// that reads configs: masking, history parsing and every rule.
#include "layer/image_summary.h"
#include "registry/manifest.h"
#include "rules/history.h"
#include "rules/rules.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto catalog = bw::RuleCatalog::builtin();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (std::string_view ct : {"", "application/vnd.oci.image.index.v1+json",
                              "application/vnd.docker.distribution.manifest.v2+json"}) {
    auto m = bw::parse_manifest(body, ct);
    if (m && m->kind == bw::ManifestKind::index) {
      (void)bw::select_platform(*m, bw::Platform{"linux", "amd64", ""});
      (void)bw::platform_entries(*m);
    }
  }
  auto config = nlohmann::json::parse(body, nullptr, false);
  if (config.is_discarded() || !bw::validate_image_config(config)) return 0;
  nlohmann::json masked = bw::mask_config_secrets(config);
  (void)bw::parse_history(masked);
  static const bw::ImageSummary summary = bw::summarize_image({}, {});
  bw::RuleInput in{summary, masked, {"sha256:a", "sha256:b"}, 1, "latest"};
  (void)bw::evaluate_rules(*catalog, in);
  return 0;
}
