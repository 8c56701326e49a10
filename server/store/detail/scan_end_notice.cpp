#include "store/detail/scan_end_notice.h"

#include <nlohmann/json.hpp>

namespace bw::detail {
namespace {

// The record's fields in one array, the status by its name; the first element marks the form.
constexpr std::string_view kForm = "scan-end/1";

}  // namespace

std::string scan_end_notice(const ScanRecord& s) {
  nlohmann::json fields = {std::string(kForm),
                           s.id,
                           s.image,
                           s.platform,
                           std::string(scan_status_name(s.status)),
                           s.manifest_digest,
                           s.index_digest,
                           s.error_code,
                           s.error_message,
                           s.progress,
                           s.created_at,
                           s.started_at,
                           s.finished_at,
                           s.policy,
                           s.result,
                           s.request_id};
  std::string out = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // A bare id never starts with '[' (scan ids are letters, digits and '_').
  return out.size() <= kMaxScanEndNotice ? out : s.id;
}

Store::ScanEnd parse_scan_end_notice(std::string_view payload) {
  if (!payload.starts_with('[')) return {std::string(payload), std::nullopt};
  auto fields = nlohmann::json::parse(payload, nullptr, false);
  constexpr std::size_t kFields = 16;
  if (!fields.is_array() || fields.size() != kFields || fields[0] != std::string(kForm))
    return {"", std::nullopt};
  for (auto& f : fields)
    if (!f.is_string()) return {"", std::nullopt};
  auto text = [&](std::size_t i) { return fields[i].get<std::string>(); };
  auto status = parse_scan_status(text(4));
  if (!status || !is_finished(*status)) return {text(1), std::nullopt};
  ScanRecord s{text(1), text(2),  text(3),  *status,  text(5),  text(6),  text(7), text(8),
               text(9), text(10), text(11), text(12), text(13), text(14), text(15)};
  return {s.id, std::move(s)};
}

}  // namespace bw::detail
