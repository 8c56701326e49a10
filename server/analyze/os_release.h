// Operating-system identification from release files, with Trivy's rules and precedence.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct OsInfo {
  std::string family;  // "debian", "ubuntu", "alpine", "redhat", "wolfi", "chainguard", …
  std::string name;    // version, e.g. "12", "3.19.1", "22.04"
  std::string pretty;  // PRETTY_NAME when known
  // Named by os-release alone for an OS whose own files decide (Debian's debian_version,
  // Ubuntu's lsb-release, as Trivy reads them): used only when those files are missing.
  bool fallback = false;
  bool operator==(const OsInfo&) const = default;
};

// True for the files the OS analysers read.
bool is_os_release_path(std::string_view path);

// Parses one release file. nullopt with `error` empty: not identifying (unknown ID, no
// version); with `error` set: a malformed file the analyser rejects.
std::optional<OsInfo> parse_os_release_file(std::string_view path, std::string_view content,
                                            std::string& error);

// Combines findings from several files as Trivy does: a "debian" or "redhat" result yields to
// a later, more specific family (ubuntu, oracle, …); otherwise the first found wins.
std::optional<OsInfo> merge_os(const std::vector<OsInfo>& found);

nlohmann::json to_json(const OsInfo& os);
// The inverse of to_json; a family stored with the old "?" fallback marker reads as the flag.
OsInfo os_info_from_json(const nlohmann::json& j);

}  // namespace bw
