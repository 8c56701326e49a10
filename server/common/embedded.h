// Files compiled into the binary (schema/*.sql, rules.json, bases.json).
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bw {

struct EmbeddedFile {
  std::string_view name;  // file name without directory, e.g. "001_initial.sql"
  std::string_view content;
};

}  // namespace bw

namespace bw::schema_files {
// Every file under schema/ that the build embeds, sorted by name.
std::span<const EmbeddedFile> files();

// The content of schema/<name>. Throws when the build did not embed it (a packaging bug).
inline std::string_view get(std::string_view name) {
  for (auto& f : files())
    if (f.name == name) return f.content;
  throw std::runtime_error("schema/" + std::string(name) + " is not embedded");
}
}  // namespace bw::schema_files
