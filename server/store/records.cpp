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

}  // namespace bw
