// ELF files built byte by byte, for the analysers' tests and the advice's: the program headers,
// dynamic section and string table a spec asks for, in either class and byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bw::test {

// Writes integers of a chosen byte order at fixed offsets, growing as needed.
class Bytes {
 public:
  explicit Bytes(bool little) : little_(little) {}
  void put(std::size_t off, std::uint64_t v, int n) {
    if (data_.size() < off + static_cast<std::size_t>(n)) data_.resize(off + n, '\0');
    for (int i = 0; i < n; ++i)
      data_[off + static_cast<std::size_t>(little_ ? i : n - 1 - i)] =
          static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void put(std::size_t off, std::string_view s) {
    if (data_.size() < off + s.size()) data_.resize(off + s.size(), '\0');
    std::memcpy(data_.data() + off, s.data(), s.size());
  }
  std::string& str() { return data_; }

 private:
  bool little_;
  std::string data_;
};

struct ElfSpec {
  bool is64 = true, little = true;
  std::uint16_t type = 2;  // ET_EXEC
  std::string interp;
  bool dynamic = false;
  std::vector<std::string> needed;
  std::string soname;  // DT_SONAME
  std::uint64_t flags = 0, flags1 = 0;
  bool relro = false, exec_stack = false, symtab = false;
  std::string tail;  // appended after everything else
};

// A minimal ELF: program headers for what the spec asks, a string table mapped by a PT_LOAD,
// a dynamic section, one section header.
std::string build_elf(const ElfSpec& s);

}  // namespace bw::test
