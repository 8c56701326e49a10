// WWW-Authenticate challenges (RFC 7235): `Bearer realm="…",service="…",scope="…"`, quoted
// values that contain commas, and several challenges in one header.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct Challenge {
  std::string scheme;                         // lower-cased: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lower-cased; values unquoted
};

// Never fails: what does not parse is dropped.
std::vector<Challenge> parse_challenges(std::string_view header);

}  // namespace bw
