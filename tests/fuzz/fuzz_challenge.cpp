// WWW-Authenticate headers as registries (or anything answering in their place) send them.
#include "registry/challenge.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto challenges =
      bw::parse_challenges(std::string_view(reinterpret_cast<const char*>(data), size));
  for (auto& c : challenges) (void)c.params.size();
  return 0;
}
