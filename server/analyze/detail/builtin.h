// The built-in analysers, one per file. Private to analyze/.
#pragma once

#include "analyze/analyzer.h"

#include <cstddef>
#include <string_view>

namespace bw::detail {

const Analyzer& os_release_analyzer();
const Analyzer& packages_analyzer();
const Analyzer& accounts_analyzer();
const Analyzer& elf_analyzer();
const Analyzer& secrets_analyzer();
const Analyzer& script_analyzer();
const Analyzer& sshd_config_analyzer();
const Analyzer& npm_analyzer();
const Analyzer& python_analyzer();
const Analyzer& jar_analyzer();
const Analyzer& gem_analyzer();
const Analyzer& composer_analyzer();
const Analyzer& cargo_auditable_analyzer();
const Analyzer& runtime_analyzer();

// The head the analysers of executables read (ELF headers, Go build info, sections): executable
// regular files large enough for an ELF header, up to `max_elf_read_bytes`.
std::size_t elf_bytes_wanted(const EntryView& e, const AnalyzeOptions& o);

}  // namespace bw::detail
