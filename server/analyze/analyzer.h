// One analyser: a unit that declares its name and version, which entries it wants and how many
// of their bytes, and what it adds to an entry's facts. The layer walk asks every analyser of
// the set in use; adding one is a new file and one line in analyzers.cpp.
#pragma once

#include "analyze/facts.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct AnalyzeOptions;

// A tar entry as an analyser sees it. `path` is relative, without a leading "/".
struct EntryView {
  std::string_view path;
  char kind = 'f';  // 'f' regular, 'd', 'l', 'h', …
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
};

// A part of an entry past its head: Go keeps its build information in the data segment,
// megabytes into a binary, which only the head's program headers locate.
struct LaterRange {
  std::uint64_t offset = 0;
  std::size_t length = 0;
};
// Reads a later part of the entry being analysed (forward only: a range before what was already
// read comes back empty). Empty as well when the entry ends first.
using ReadLater = std::function<std::string(LaterRange)>;

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  // Stable name ("os-release", "packages", …) and version: bump the version whenever what the
  // analyser records changes, and stored layers are analysed again.
  virtual std::string_view name() const = 0;
  virtual int version() const = 0;
  // How many bytes of the entry's content this analyser needs (0: none, it is not called).
  virtual std::size_t wants(const EntryView& entry, const AnalyzeOptions& options) const = 0;
  // Adds what `head` (the entry's first bytes; `truncated` if more existed) shows to `facts`,
  // which earlier analysers may have filled. An analyser that is not built in records its
  // result under its own key of `facts.extra`.
  virtual void analyze(const EntryView& entry, std::string_view head, bool truncated,
                       const AnalyzeOptions& options, FileInfo& facts) const = 0;
  // After analyze(): a later part of the entry this analyser needs, given the head; then
  // analyze_later() receives those bytes (from offset `at`) with the head again, since what a
  // later part says may point back into the head (section headers, at a binary's end, locate
  // sections near its start). Most analysers need none.
  virtual std::optional<LaterRange> wants_later(const EntryView&, std::string_view /*head*/,
                                                const FileInfo&, const AnalyzeOptions&) const {
    return std::nullopt;
  }
  virtual void analyze_later(const EntryView&, std::string_view /*head*/, std::uint64_t /*at*/,
                             std::string_view /*bytes*/, const AnalyzeOptions&, FileInfo&) const {}
};

// The built-in analysers, in the order they run.
const std::vector<const Analyzer*>& builtin_analyzers();

}  // namespace bw
