// ELF facts for base-image advice and binary hardening: static or dynamic (and which loader),
// PIE, RELRO, NX stack, stack canary, Go build info, needed libraries.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

enum class ElfKind : std::uint8_t { executable, shared_library, other };
enum class Libc : std::uint8_t { none, glibc, musl, other };
enum class Relro : std::uint8_t { none, partial, full };

NLOHMANN_JSON_SERIALIZE_ENUM(ElfKind, {{ElfKind::other, "other"},
                                       {ElfKind::executable, "executable"},
                                       {ElfKind::shared_library, "shared_library"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Libc, {{Libc::none, nullptr},
                                    {Libc::glibc, "glibc"},
                                    {Libc::musl, "musl"},
                                    {Libc::other, "other"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Relro, {{Relro::none, "none"},
                                     {Relro::partial, "partial"},
                                     {Relro::full, "full"}})

struct ElfInfo {
  ElfKind kind = ElfKind::other;
  bool is_static = false;
  std::string interpreter;  // PT_INTERP; empty when none
  Libc libc = Libc::none;   // from the interpreter; none without one
  bool pie = false;
  Relro relro = Relro::none;
  bool nx = true;
  std::string go;       // Go version ("go1.22.1", "go" when unreadable); empty: not Go
  std::string go_path;  // the main package's import path, from the build info
  std::map<std::string, std::string> go_settings;  // "CGO_ENABLED" -> "1", "-trimpath" -> "true"
  std::optional<bool> canary;                      // unknown when the symbol table was not reached
  std::vector<std::string> needed;
  std::string soname;    // DT_SONAME: the name a shared library is loaded by ("libz.so.1")
  bool partial = false;  // dynamic section beyond what was read
};

struct GoBuildInfo;

// Parses an ELF file's first bytes (as much as was read). nullopt when not ELF. A Go binary's
// build info found in them is also given whole to `go`, when not null.
std::optional<ElfInfo> analyze_elf(std::string_view head, bool truncated,
                                   GoBuildInfo* go = nullptr);

// Records what Go's build info says of the binary (version, main package, build settings).
void set_go_build(ElfInfo& elf, const GoBuildInfo& build);

// Where a Go binary's build information lies when the head did not reach it: the first
// writable segment (the linker puts .go.buildinfo there), as a file offset and length.
std::optional<std::pair<std::uint64_t, std::uint64_t>> elf_writable_segment(std::string_view head);

// An ELF file read in two pieces: its first bytes, and optionally a later run of them (from
// offset `later_at`). Section headers lie at a file's end, the sections they name near its start.
struct ElfPieces {
  std::string_view head;
  std::uint64_t later_at = 0;
  std::string_view later;
};

// Where the section header table lies, as a file offset and length; nullopt when `head` is not
// ELF or has none.
std::optional<std::pair<std::uint64_t, std::uint64_t>> elf_section_table(std::string_view head);

// The content of the first section named `name`, when the section headers, their names and the
// content are all within `file`'s pieces; nullopt otherwise (or when the section has no content).
std::optional<std::string_view> elf_section(const ElfPieces& file, std::string_view name);

void to_json(nlohmann::json& j, const ElfInfo& e);
void from_json(const nlohmann::json& j, ElfInfo& e);

}  // namespace bw
