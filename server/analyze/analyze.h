// The analysers: what a file's path, mode and (bounded) content say about an image. Each
// result is attached to the file it came from, so that layer merging (whiteouts, overrides)
// decides which results survive, exactly as it decides which files do. Knows nothing of where
// the bytes come from.
#pragma once

#include "analyze/analyzer.h"
#include "analyze/secrets.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct AnalyzeOptions {
  std::size_t max_file_read_bytes = 1 << 20;      // text files: os-release, package DBs, secrets
  std::size_t max_package_db_bytes = 64 << 20;    // dpkg status, apk installed, rpmdb.sqlite
  std::size_t max_elf_read_bytes = 16 << 20;      // ELF prefix read for headers and build info
  std::size_t max_archive_read_bytes = 64 << 20;  // a Java archive, and each archive nested in it
  std::shared_ptr<const SecretRules> secrets;     // null: no content secret scanning
  // Record every entry, not only notable ones (diagnostics and conformance; large layers
  // then store large facts).
  bool record_all_entries = false;
  // The analysers to run, in order; empty: builtin_analyzers().
  std::vector<const Analyzer*> analyzers;
};

// The analysers `options` runs, and their versions by name (stored with each layer: a layer is
// analysed again when one of them has a newer version).
const std::vector<const Analyzer*>& analyzers_in_use(const AnalyzeOptions& options);
std::map<std::string, int> analyzer_versions(const AnalyzeOptions& options);

// Path-only classification; empty when no tag applies. `mode` distinguishes executables.
std::vector<FileTag> classify_path(std::string_view path, char kind, std::uint32_t mode);

// Whether a program's base name is a shell ("sh", "bash", "busybox", …).
bool is_shell_name(std::string_view base_name);
// The language runtime a program's base name is: "java", "python" (python, python3,
// python3.N) or "node" (node, nodejs); empty for any other program.
std::string_view runtime_of_program(std::string_view base_name);

// Absolute program paths shell text names (/bin/x, /sbin/x, /usr/bin/x, /usr/sbin/x,
// /usr/local/bin/x, /usr/local/sbin/x), without the leading "/", sorted, at most 16.
std::vector<std::string> programs_named_in(std::string_view text);

// How many content bytes the analysers want from this entry (0: none).
std::size_t content_wanted(std::string_view path, char kind, std::uint32_t mode, std::uint64_t size,
                           const AnalyzeOptions& options);

// Runs every analyser that wants the entry (each on the bytes it asked for); empty when
// nothing was learned. `head` is the entry's first bytes, `truncated` whether more existed.
FileInfo analyze_content(std::string_view path, std::uint32_t mode, std::string_view head,
                         bool truncated, const AnalyzeOptions& options);
// The same, for an entry whose size is known (the layer walk); `later`, when given, reads the
// later parts of the entry that analysers ask for after seeing the head.
FileInfo analyze_entry(const EntryView& entry, std::string_view head, bool truncated,
                       const AnalyzeOptions& options, const ReadLater* later = nullptr);

}  // namespace bw
