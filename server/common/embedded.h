// Files compiled into the binary (schema/*.sql, rules.json, bases.json).
#pragma once

#include <span>
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
}  // namespace bw::schema_files
