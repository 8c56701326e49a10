// What a replica announces when a scan it ran ends (NOTIFY's payload): the scan as it ended, so
// that a replica waiting on it answers without reading it back; or only its id when the record
// is longer than an announcement may be. Private to store/.
#pragma once

#include "store/store.h"

#include <string>
#include <string_view>

namespace bw::detail {

// PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more.
constexpr std::size_t kMaxScanEndNotice = 7999;

// The payload announcing `scan`'s end: at most kMaxScanEndNotice bytes.
std::string scan_end_notice(const ScanRecord& scan);

// What a payload announces. A bare id (an announcement of a cancel, of a record too long, or
// from an older replica) comes without its record.
Store::ScanEnd parse_scan_end_notice(std::string_view payload);

}  // namespace bw::detail
