#include "common/log.h"

#include "common/time_util.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace bw::log {
namespace {

// The logger is process-wide by nature (stderr is); the level is its only state.
std::atomic<Level>& threshold() {
  static std::atomic<Level> level{Level::info};
  return level;
}

std::string_view name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

}  // namespace

void set_level(Level level) {
  threshold() = level;
}

void write(Level level, std::string_view message) {
  if (level < threshold().load()) return;
  std::string stamp = now_rfc3339();
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s level=%.*s %.*s\n", stamp.c_str(), static_cast<int>(name(level).size()),
               name(level).data(), static_cast<int>(message.size()), message.data());
}

}  // namespace bw::log
