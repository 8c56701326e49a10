// Structured logging to stderr: one line per event, as key=value text or as one JSON object
// (log_format). Thread-safe. Never pass credentials: callers log hosts and repositories, not
// headers.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace bw::log {

enum class Level { debug, info, warn, error };
enum class Format { text, json };

void set_level(Level level);
void set_format(Format format);
bool enabled(Level level);

// A field of an event: text, or a number that JSON logs write as a number (so that a log
// pipeline can compare `status >= 500` or sum `duration_s`). Empty text is left out.
struct Field {
  Field(std::string_view k, std::string v) : key(k), text(std::move(v)) {}
  Field(std::string_view k, const char* v) : key(k), text(v) {}
  template <typename T>
  requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)Field(std::string_view k, T v)
      : key(k), text(std::to_string(v)), number(true) {}
  // Seconds and the like: `decimals` places.
  Field(std::string_view k, double v, int decimals = 3);

  std::string_view key;
  std::string text;
  bool number = false;
};

// text:  2026-01-31T12:00:00Z level=info scan done scan=… duration_s=1.204
// json:  {"time":"…","level":"info","msg":"scan done","scan":"…","duration_s":1.204}
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace bw::log
