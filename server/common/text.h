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
// What follows the last '/' of a path (all of it when there is none).
std::string_view path_base_name(std::string_view path);
// The parts with `sep` between them.
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// `s` whole when it has at most `max_bytes` bytes; else its first bytes (never splitting a UTF-8
// sequence) and a marker that says how much was cut: "…[+4999000 bytes]". What an image holds
// is copied into reports through this, so that a report's size does not follow the image's.
std::string clip(std::string_view s, std::size_t max_bytes);
// Levenshtein distance, for "did you mean": a misspelt name is usually one or two edits away.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace bw
