#include "common/log.h"

#include "common/time_util.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace bw::log {
namespace {

// The logger is process-wide by nature (stderr is); level and format are its only state, set
// once at start-up.
std::atomic<Level>& threshold() {
  static std::atomic<Level> level{Level::info};
  return level;
}

std::atomic<Format>& format() {
  static std::atomic<Format> f{Format::text};
  return f;
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

// A text value as key=value expects it: quoted when it holds spaces, quotes or '='.
std::string text_value(std::string_view v) {
  if (!v.empty() && v.find_first_of(" \t\"=\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace

Field::Field(std::string_view k, double v, int decimals) : key(k), number(true) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  text = buf;
}

void set_level(Level level) {
  threshold() = level;
}

void set_format(Format f) {
  format() = f;
}

bool enabled(Level level) {
  return level >= threshold().load();
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (format().load() == Format::json) {
    nlohmann::json j = {{"time", now_rfc3339()}, {"level", name(level)}, {"msg", message}};
    for (auto& f : fields) {
      if (f.text.empty()) continue;
      nlohmann::json number =
          f.number ? nlohmann::json::parse(f.text, nullptr, false) : nlohmann::json();
      j[std::string(f.key)] = number.is_number() ? number : nlohmann::json(f.text);
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = now_rfc3339() + " level=" + std::string(name(level)) + " " + std::string(message);
    for (auto& f : fields)
      if (!f.text.empty()) line += " " + std::string(f.key) + "=" + text_value(f.text);
  }
  line += "\n";
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace bw::log
