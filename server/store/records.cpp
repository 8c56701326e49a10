#include "store/store.h"

#include "common/enum_names.h"

namespace bw {

namespace {
constexpr EnumNames<ScanStatus, 5> kScanStatuses{
    {"queued", "running", "done", "failed", "cancelled"}};
}  // namespace

std::string_view scan_status_name(ScanStatus s) {
  return kScanStatuses.name(s);
}

std::optional<ScanStatus> parse_scan_status(std::string_view name) {
  return kScanStatuses.parse(name);
}

bool is_finished(ScanStatus s) {
  return s == ScanStatus::done || s == ScanStatus::failed || s == ScanStatus::cancelled;
}

LayerMeta layer_meta_from(int analyzer_version, std::string diff_id, std::string_view status,
                          std::string_view analyzer_versions_json) {
  LayerMeta meta{analyzer_version, std::move(diff_id), LayerStatus::complete, {}};
  auto versions = nlohmann::json::parse(analyzer_versions_json, nullptr, false);
  if (versions.is_object())
    for (auto& [name, v] : versions.items())
      if (v.is_number_integer()) meta.analyzer_versions[name] = v.get<int>();
  for (auto s : {LayerStatus::complete, LayerStatus::limit_exceeded, LayerStatus::invalid,
                 LayerStatus::skipped})
    if (layer_status_name(s) == status) meta.status = s;
  return meta;
}

}  // namespace bw
