// Small string helpers shared by the parsers (release files, package databases, history).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bw {

// Every masked secret is this, whatever its length, so that a mask reveals nothing.
inline constexpr std::string_view kSecretMask = "****";

// `s` without leading and trailing characters from `chars`.
std::string trim(std::string_view s, std::string_view chars = " \t\r\n");
std::string to_lower(std::string_view s);
// Splits on every `sep` (empty fields kept): "a::b" → {"a", "", "b"}.
std::vector<std::string> split(std::string_view s, char sep);

}  // namespace bw
