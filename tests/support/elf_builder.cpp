#include "elf_builder.h"

namespace bw::test {

std::string build_elf(const ElfSpec& s) {
  Bytes b(s.little);
  const std::size_t ph = s.is64 ? 64 : 52, phsize = s.is64 ? 56 : 32, word = s.is64 ? 8 : 4;
  const std::size_t interp_at = 0x200, strtab_at = 0x300, dyn_at = 0x400, sh_at = 0x600;
  b.put(0,
        "\x7f"
        "ELF");
  b.put(4, s.is64 ? 2 : 1, 1);
  b.put(5, s.little ? 1 : 2, 1);
  b.put(6, 1, 1);
  b.put(16, s.type, 2);
  b.put(s.is64 ? 32 : 28, ph, static_cast<int>(word));     // e_phoff
  b.put(s.is64 ? 40 : 32, sh_at, static_cast<int>(word));  // e_shoff
  b.put(s.is64 ? 54 : 42, phsize, 2);                      // e_phentsize
  b.put(s.is64 ? 58 : 46, s.is64 ? 64 : 40, 2);            // e_shentsize
  b.put(s.is64 ? 60 : 48, s.symtab ? 1 : 0, 2);            // e_shnum
  std::string strtab(1, '\0');
  std::vector<std::size_t> needed_at;
  for (auto& n : s.needed) {
    needed_at.push_back(strtab.size());
    strtab += n + '\0';
  }
  const std::size_t soname_at = strtab.size();
  if (!s.soname.empty()) strtab += s.soname + '\0';
  struct Seg {
    std::uint32_t type, flags;
    std::uint64_t offset, vaddr, filesz;
  };
  std::vector<Seg> segs;
  if (!s.interp.empty()) segs.push_back({3, 4, interp_at, interp_at, s.interp.size() + 1});
  std::vector<std::pair<std::uint64_t, std::uint64_t>> dyn;
  if (s.dynamic) {
    for (auto at : needed_at) dyn.push_back({1, at});
    if (!s.soname.empty()) dyn.push_back({14, soname_at});
    dyn.push_back({5, strtab_at});
    dyn.push_back({10, strtab.size()});
    if (s.flags) dyn.push_back({30, s.flags});
    if (s.flags1) dyn.push_back({0x6ffffffb, s.flags1});
    dyn.push_back({0, 0});
    segs.push_back({2, 6, dyn_at, dyn_at, dyn.size() * 2 * word});
  }
  segs.push_back({1, 5, 0, 0, 0x800});
  if (s.relro) segs.push_back({0x6474e552, 4, 0, 0, 0});
  segs.push_back({0x6474e551, s.exec_stack ? 7u : 6u, 0, 0, 0});
  b.put(s.is64 ? 56 : 44, segs.size(), 2);  // e_phnum
  for (std::size_t i = 0; i < segs.size(); ++i) {
    std::size_t o = ph + i * phsize;
    const Seg& g = segs[i];
    b.put(o, g.type, 4);
    if (s.is64) {
      b.put(o + 4, g.flags, 4);
      b.put(o + 8, g.offset, 8);
      b.put(o + 16, g.vaddr, 8);
      b.put(o + 32, g.filesz, 8);
    } else {
      b.put(o + 4, g.offset, 4);
      b.put(o + 8, g.vaddr, 4);
      b.put(o + 16, g.filesz, 4);
      b.put(o + 24, g.flags, 4);
    }
  }
  b.put(interp_at, s.interp);
  b.put(strtab_at, strtab);
  for (std::size_t i = 0; i < dyn.size(); ++i) {
    b.put(dyn_at + i * 2 * word, dyn[i].first, static_cast<int>(word));
    b.put(dyn_at + (i * 2 + 1) * word, dyn[i].second, static_cast<int>(word));
  }
  if (s.symtab) b.put(sh_at + 4, 2, 4);  // SHT_SYMTAB
  b.put(0x800, s.tail);
  if (b.str().size() < 0x800) b.str().resize(0x800, '\0');
  return b.str();
}

}  // namespace bw::test
