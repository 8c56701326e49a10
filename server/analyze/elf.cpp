#include "analyze/elf.h"

#include "analyze/app_packages.h"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace bw {
namespace {

class Reader {
 public:
  Reader(std::string_view d, bool is64, bool little) : d_(d), is64_(is64), le_(little) {}
  bool has(std::uint64_t off, std::uint64_t n) const {
    return off <= d_.size() && n <= d_.size() - off;
  }
  std::uint64_t u(std::uint64_t off, int bytes) const {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      std::uint64_t b =
          static_cast<unsigned char>(d_[off + static_cast<std::uint64_t>(le_ ? i : bytes - 1 - i)]);
      v |= b << (8 * i);
    }
    return v;
  }
  std::uint64_t word(std::uint64_t off) const { return u(off, is64_ ? 8 : 4); }
  bool is64() const { return is64_; }
  std::string_view data() const { return d_; }

 private:
  std::string_view d_;
  bool is64_, le_;
};

constexpr std::uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtGnuStack = 0x6474e551,
                        kPtGnuRelro = 0x6474e552;
constexpr std::uint64_t kDtNeeded = 1, kDtStrtab = 5, kDtStrsz = 10, kDtSoname = 14, kDtFlags = 30,
                        kDtBindNow = 24, kDtFlags1 = 0x6ffffffb;

struct Segment {
  std::uint32_t type, flags;
  std::uint64_t offset, vaddr, filesz;
};

bool is_elf(std::string_view d) {
  return d.size() >= 52 && d.substr(0, 4) ==
                               "\x7f"
                               "ELF";
}

std::vector<Segment> program_headers(const Reader& r) {
  bool is64 = r.is64();
  std::uint64_t phoff = r.word(is64 ? 32 : 28);
  std::uint64_t phentsize = r.u(is64 ? 54 : 42, 2), phnum = r.u(is64 ? 56 : 44, 2);
  std::vector<Segment> segs;
  for (std::uint64_t i = 0; i < phnum && i < 256; ++i) {
    std::uint64_t o = phoff + i * phentsize;
    if (!r.has(o, is64 ? 56 : 32)) break;
    Segment s{};
    s.type = static_cast<std::uint32_t>(r.u(o, 4));
    if (is64) {
      s.flags = static_cast<std::uint32_t>(r.u(o + 4, 4));
      s.offset = r.u(o + 8, 8);
      s.vaddr = r.u(o + 16, 8);
      s.filesz = r.u(o + 32, 8);
    } else {
      s.offset = r.u(o + 4, 4);
      s.vaddr = r.u(o + 8, 4);
      s.filesz = r.u(o + 16, 4);
      s.flags = static_cast<std::uint32_t>(r.u(o + 24, 4));
    }
    segs.push_back(s);
  }
  return segs;
}

// `length` bytes at `offset`, when one of the pieces holds them all.
std::optional<std::string_view> piece(const ElfPieces& f, std::uint64_t offset,
                                      std::uint64_t length) {
  if (offset <= f.head.size() && length <= f.head.size() - offset)
    return f.head.substr(offset, length);
  if (offset < f.later_at) return std::nullopt;
  std::uint64_t at = offset - f.later_at;
  if (at <= f.later.size() && length <= f.later.size() - at) return f.later.substr(at, length);
  return std::nullopt;
}

}  // namespace

std::optional<std::pair<std::uint64_t, std::uint64_t>> elf_section_table(std::string_view head) {
  if (!is_elf(head) || head.size() < 64) return std::nullopt;
  bool is64 = head[4] == 2;
  Reader r(head, is64, head[5] == 1);
  std::uint64_t shoff = r.word(is64 ? 40 : 32);
  std::uint64_t shentsize = r.u(is64 ? 58 : 46, 2), shnum = r.u(is64 ? 60 : 48, 2);
  if (shoff == 0 || shnum == 0 || shentsize < (is64 ? 64u : 40u)) return std::nullopt;
  if (shoff > std::numeric_limits<std::uint64_t>::max() - shnum * shentsize) return std::nullopt;
  return std::pair{shoff, shnum * shentsize};
}

std::optional<std::string_view> elf_section(const ElfPieces& f, std::string_view name) {
  auto table = elf_section_table(f.head);
  if (!table) return std::nullopt;
  auto headers = piece(f, table->first, table->second);
  if (!headers) return std::nullopt;
  bool is64 = f.head[4] == 2, little = f.head[5] == 1;
  Reader h(f.head, is64, little), r(*headers, is64, little);
  std::uint64_t entsize = h.u(is64 ? 58 : 46, 2), count = table->second / entsize;
  std::uint64_t names_index = h.u(is64 ? 62 : 50, 2);
  struct Header {
    std::uint64_t name, type, offset, size;
  };
  auto header = [&](std::uint64_t i) {
    std::uint64_t o = i * entsize;
    return is64 ? Header{r.u(o, 4), r.u(o + 4, 4), r.u(o + 24, 8), r.u(o + 32, 8)}
                : Header{r.u(o, 4), r.u(o + 4, 4), r.u(o + 16, 4), r.u(o + 20, 4)};
  };
  if (names_index >= count) return std::nullopt;
  Header names_header = header(names_index);
  auto names = piece(f, names_header.offset, names_header.size);
  if (!names) return std::nullopt;
  constexpr std::uint64_t kNoBits = 8;
  for (std::uint64_t i = 1; i < count && i < 4096; ++i) {
    Header s = header(i);
    if (s.name >= names->size() || s.type == kNoBits) continue;
    std::string_view rest = names->substr(s.name);
    if (rest.substr(0, rest.find('\0')) == name) return piece(f, s.offset, s.size);
  }
  return std::nullopt;
}

std::optional<ElfInfo> analyze_elf(std::string_view d, bool truncated, GoBuildInfo* go) {
  if (!is_elf(d)) return std::nullopt;
  bool is64 = d[4] == 2, little = d[5] == 1;
  Reader r(d, is64, little);
  std::uint64_t type = r.u(16, 2);
  std::vector<Segment> segs = program_headers(r);
  ElfInfo j;
  std::string interp;
  bool has_dynamic = false, relro = false, nx = true, bind_now = false, pie_flag = false;
  std::vector<std::string> needed;
  const Segment* dyn = nullptr;
  for (auto& s : segs) {
    if (s.type == kPtInterp && r.has(s.offset, s.filesz))
      interp = std::string(d.substr(s.offset, strnlen(d.data() + s.offset, s.filesz)));
    if (s.type == kPtDynamic) {
      has_dynamic = true;
      dyn = &s;
    }
    if (s.type == kPtGnuRelro) relro = true;
    if (s.type == kPtGnuStack && (s.flags & 1)) nx = false;
  }
  bool have_dynamic_data = false;
  std::string strtab;
  if (dyn && r.has(dyn->offset, dyn->filesz)) {
    have_dynamic_data = true;
    std::uint64_t ent = is64 ? 16 : 8, strtab_addr = 0, strsz = 0;
    std::vector<std::uint64_t> needed_off;
    std::optional<std::uint64_t> soname_off;
    for (std::uint64_t o = dyn->offset; o + ent <= dyn->offset + dyn->filesz; o += ent) {
      std::uint64_t tag = r.word(o), val = r.word(o + ent / 2);
      if (tag == 0) break;
      if (tag == kDtNeeded) needed_off.push_back(val);
      if (tag == kDtSoname) soname_off = val;
      if (tag == kDtStrtab) strtab_addr = val;
      if (tag == kDtStrsz) strsz = val;
      if (tag == kDtBindNow || (tag == kDtFlags && (val & 0x8))) bind_now = true;
      if (tag == kDtFlags1) {
        if (val & 0x1) bind_now = true;         // DF_1_NOW
        if (val & 0x08000000) pie_flag = true;  // DF_1_PIE
      }
    }
    for (auto& s : segs)
      if (s.type == kPtLoad && strtab_addr >= s.vaddr && strtab_addr < s.vaddr + s.filesz) {
        std::uint64_t off = s.offset + (strtab_addr - s.vaddr);
        if (r.has(off, strsz)) strtab = std::string(d.substr(off, strsz));
      }
    for (auto o : needed_off)
      if (o < strtab.size() && needed.size() < 32) needed.emplace_back(strtab.c_str() + o);
    if (soname_off && *soname_off < strtab.size()) j.soname = strtab.c_str() + *soname_off;
  }
  // A symbol table (SHT_SYMTAB) in the section headers: without one (stripped) a static binary's
  // canary cannot be told from its symbols.
  bool has_symtab = false;
  std::uint64_t shoff = r.word(is64 ? 40 : 32);
  std::uint64_t shentsize = r.u(is64 ? 58 : 46, 2), shnum = r.u(is64 ? 60 : 48, 2);
  for (std::uint64_t i = 0; i < shnum && i < 4096 && shentsize >= 8; ++i) {
    std::uint64_t o = shoff + i * shentsize;
    if (!r.has(o, 8)) break;
    if (r.u(o + 4, 4) == 2) has_symtab = true;
  }
  std::size_t go_at = find_go_buildinfo(d).value_or(std::string_view::npos);
  j.kind = type == 2 ? ElfKind::executable
           : type == 3
               ? (interp.empty() && !pie_flag ? ElfKind::shared_library : ElfKind::executable)
               : ElfKind::other;
  j.is_static = interp.empty() && (!has_dynamic || j.kind == ElfKind::executable);
  if (!interp.empty()) {
    j.interpreter = interp;
    j.libc = interp.find("musl") != std::string::npos       ? Libc::musl
             : interp.find("ld-linux") != std::string::npos ? Libc::glibc
                                                            : Libc::other;
  }
  j.pie = type == 3 && j.kind == ElfKind::executable;
  j.relro = relro ? (bind_now ? Relro::full : Relro::partial) : Relro::none;
  j.nx = nx;
  if (go_at != std::string_view::npos) {
    j.go = "go";
    if (auto build = parse_go_buildinfo(d, go_at)) {
      set_go_build(j, *build);
      if (go) *go = std::move(*build);
    }
  } else {
    // A large Go binary keeps its build info past what was read (docker-registry's is 20 MB
    // in), but its build-ID note is in the first page: Go, version unknown.
    static constexpr std::string_view kGoNote("\x04\x00\x00\x00Go\x00\x00", 8);
    std::size_t note = d.substr(0, 64 * 1024).find(kGoNote);
    if (note != std::string_view::npos && note >= 8 && r.u(note - 8, 4) == 4) j.go = "go";
  }
  // Canary: a dynamic executable imports __stack_chk_fail; a static one (static-pie included:
  // its dynamic section relocates itself and imports nothing) carries the symbol name in its
  // symbol table, which the prefix may not reach (then it is unknown).
  if (!strtab.empty())
    j.canary = strtab.find("__stack_chk_fail") != std::string::npos;
  else if (d.find("__stack_chk_fail") != std::string_view::npos)
    j.canary = true;
  else if (!truncated && go_at == std::string_view::npos &&
           ((has_dynamic && !j.is_static) || has_symtab))
    j.canary = false;
  j.needed = std::move(needed);
  j.partial = truncated && !have_dynamic_data && has_dynamic;
  return j;
}

void set_go_build(ElfInfo& elf, const GoBuildInfo& build) {
  elf.go = build.go_version;
  elf.go_path = build.path;
  elf.go_settings = build.settings;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> elf_writable_segment(std::string_view d) {
  if (!is_elf(d)) return std::nullopt;
  Reader r(d, d[4] == 2, d[5] == 1);
  for (auto& s : program_headers(r))
    if (s.type == kPtLoad && (s.flags & 2)) return std::pair{s.offset, s.filesz};
  return std::nullopt;
}

void to_json(nlohmann::json& j, const ElfInfo& e) {
  j = {{"kind", e.kind}, {"static", e.is_static}, {"pie", e.pie}, {"relro", e.relro}, {"nx", e.nx}};
  if (!e.interpreter.empty()) j["interpreter"] = e.interpreter;
  if (e.libc != Libc::none) j["libc"] = e.libc;
  if (!e.go.empty()) j["go"] = e.go;
  if (!e.go_path.empty()) j["go_path"] = e.go_path;
  if (!e.go_settings.empty()) j["go_settings"] = e.go_settings;
  if (e.canary) j["canary"] = *e.canary;
  if (!e.needed.empty()) j["needed"] = e.needed;
  if (!e.soname.empty()) j["soname"] = e.soname;
  if (e.partial) j["partial"] = true;
}

void from_json(const nlohmann::json& j, ElfInfo& e) {
  e = ElfInfo{};
  if (!j.is_object()) return;
  // Unknown names read as the first of each enum's list (other, none, none).
  e.kind = j.value("kind", ElfKind::other);
  e.is_static = j.value("static", false);
  e.interpreter = j.value("interpreter", "");
  e.libc = j.value("libc", Libc::none);
  e.pie = j.value("pie", false);
  e.relro = j.value("relro", Relro::none);
  e.nx = j.value("nx", true);
  e.go = j.value("go", "");
  e.go_path = j.value("go_path", "");
  if (auto g = j.find("go_settings"); g != j.end() && g->is_object())
    for (auto& [k, v] : g->items())
      if (v.is_string()) e.go_settings[k] = v;
  if (auto c = j.find("canary"); c != j.end() && c->is_boolean()) e.canary = c->get<bool>();
  if (auto n = j.find("needed"); n != j.end() && n->is_array())
    for (auto& x : *n)
      if (x.is_string()) e.needed.push_back(x);
  e.soname = j.value("soname", "");
  e.partial = j.value("partial", false);
}

}  // namespace bw
