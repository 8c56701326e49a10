// ELF facts for base-image advice and binary hardening: static or dynamic (and which loader),
// PIE, RELRO, NX stack, stack canary, Go build info, needed libraries.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace bw {

// Parses an ELF file's first bytes (as much as was read). nullopt when not ELF.
std::optional<nlohmann::json> analyze_elf(std::string_view head, bool truncated);

}  // namespace bw
