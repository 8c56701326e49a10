#include "analyze/capabilities.h"

#include <array>

namespace bw {

namespace {

// linux/capability.h, in bit order.
constexpr std::array<std::string_view, 41> kCapNames = {"cap_chown",
                                                        "cap_dac_override",
                                                        "cap_dac_read_search",
                                                        "cap_fowner",
                                                        "cap_fsetid",
                                                        "cap_kill",
                                                        "cap_setgid",
                                                        "cap_setuid",
                                                        "cap_setpcap",
                                                        "cap_linux_immutable",
                                                        "cap_net_bind_service",
                                                        "cap_net_broadcast",
                                                        "cap_net_admin",
                                                        "cap_net_raw",
                                                        "cap_ipc_lock",
                                                        "cap_ipc_owner",
                                                        "cap_sys_module",
                                                        "cap_sys_rawio",
                                                        "cap_sys_chroot",
                                                        "cap_sys_ptrace",
                                                        "cap_sys_pacct",
                                                        "cap_sys_admin",
                                                        "cap_sys_boot",
                                                        "cap_sys_nice",
                                                        "cap_sys_resource",
                                                        "cap_sys_time",
                                                        "cap_sys_tty_config",
                                                        "cap_mknod",
                                                        "cap_lease",
                                                        "cap_audit_write",
                                                        "cap_audit_control",
                                                        "cap_setfcap",
                                                        "cap_mac_override",
                                                        "cap_mac_admin",
                                                        "cap_syslog",
                                                        "cap_wake_alarm",
                                                        "cap_block_suspend",
                                                        "cap_audit_read",
                                                        "cap_perfmon",
                                                        "cap_bpf",
                                                        "cap_checkpoint_restore"};

std::uint32_t le32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

std::optional<FileCaps> decode_file_caps(std::string_view x) {
  constexpr std::uint32_t kRevisionMask = 0xff000000, kEffective = 0x000001;
  if (x.size() < 4) return std::nullopt;
  std::uint32_t magic = le32(x, 0);
  std::size_t words = 0;
  switch (magic & kRevisionMask) {
    case 0x01000000:
      words = 1;
      break;  // 12 bytes
    case 0x02000000:
      words = 2;
      break;  // 20 bytes
    case 0x03000000:
      words = 2;
      break;  // 24 bytes: a namespace root uid follows
    default:
      return std::nullopt;
  }
  if (x.size() < 4 + words * 8) return std::nullopt;
  FileCaps c;
  c.effective = (magic & kEffective) != 0;
  for (std::size_t w = 0; w < words; ++w) {
    c.permitted |= std::uint64_t{le32(x, 4 + w * 8)} << (32 * w);
    c.inheritable |= std::uint64_t{le32(x, 8 + w * 8)} << (32 * w);
  }
  return c;
}

std::vector<std::string> cap_names(std::uint64_t bits) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < 64; ++i)
    if (bits & (std::uint64_t{1} << i))
      out.push_back(i < kCapNames.size() ? std::string(kCapNames[i]) : "cap_" + std::to_string(i));
  return out;
}

std::uint64_t cap_bits(const std::vector<std::string>& names) {
  std::uint64_t bits = 0;
  for (auto& n : names) {
    std::string full = n.starts_with("cap_") ? n : "cap_" + n;
    for (std::size_t i = 0; i < kCapNames.size(); ++i)
      if (kCapNames[i] == full) bits |= std::uint64_t{1} << i;
  }
  return bits;
}

std::uint64_t privileged_caps() {
  static const std::uint64_t bits =
      cap_bits({"sys_admin", "dac_override", "dac_read_search", "setuid", "setgid", "setfcap",
                "setpcap", "sys_ptrace", "sys_module", "sys_rawio", "fowner", "chown", "net_admin",
                "bpf", "mknod", "sys_chroot"});
  return bits;
}

}  // namespace bw
