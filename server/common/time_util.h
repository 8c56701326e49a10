// Wall-clock formatting for stored and returned timestamps (RFC 3339, UTC, seconds).
#pragma once

#include <chrono>
#include <string>

namespace bw {

std::string format_rfc3339(std::chrono::system_clock::time_point t);
inline std::string now_rfc3339() {
  return format_rfc3339(std::chrono::system_clock::now());
}

}  // namespace bw
