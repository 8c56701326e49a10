// History lines (created_by) in legacy and BuildKit forms, and the shell splitter under them.
#include "rules/history.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto step = bw::parse_created_by(text);
  for (auto& c : step.commands) (void)c.argv.size();
  (void)bw::split_shell(text);
  (void)bw::mask_secret_assignments(text);
  return 0;
}
