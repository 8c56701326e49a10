// File capabilities: the `security.capability` extended attribute (struct vfs_cap_data, as tar
// carries it in `SCHILY.xattr.security.capability`), setuid's finer-grained twin.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct FileCaps {
  std::uint64_t permitted = 0;  // bit n: capability n (CAP_CHOWN = 0 …)
  std::uint64_t inheritable = 0;
  bool effective = false;  // raised on exec without the program asking
  bool operator==(const FileCaps&) const = default;
};

// Decodes a vfs_cap_data value (revisions 1, 2 and 3); nullopt when it is not one.
std::optional<FileCaps> decode_file_caps(std::string_view xattr);

// "cap_net_raw", … for the bits set, lowest first; unknown bits as "cap_<n>".
std::vector<std::string> cap_names(std::uint64_t bits);
// The bits of these names ("cap_sys_admin" or "sys_admin"); unknown names are ignored.
std::uint64_t cap_bits(const std::vector<std::string>& names);

// Capabilities that amount to root, or near it (sys_admin, dac_override, setuid, …).
std::uint64_t privileged_caps();

}  // namespace bw
