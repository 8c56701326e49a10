#include "zip_builder.h"

#include "tar_builder.h"

#include <zlib.h>

namespace bw::test {
namespace {

void le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

ZipBuilder& ZipBuilder::deflated(const std::string& name, const std::string& content) {
  entries_.push_back({name, content, true});
  return *this;
}

ZipBuilder& ZipBuilder::stored(const std::string& name, const std::string& content) {
  entries_.push_back({name, content, false});
  return *this;
}

std::string ZipBuilder::build() const {
  std::string out, directory;
  for (auto& e : entries_) {
    std::string data = e.deflate ? raw_deflate(e.content) : e.content;
    auto crc = crc32(0, reinterpret_cast<const Bytef*>(e.content.data()),
                     static_cast<uInt>(e.content.size()));
    std::size_t offset = out.size();
    std::string common;
    le(common, 20, 2);                 // version needed
    le(common, 0x0800, 2);             // flags: UTF-8 names
    le(common, e.deflate ? 8 : 0, 2);  // method
    le(common, 0, 4);                  // time, date
    le(common, crc, 4);
    le(common, data.size(), 4);
    le(common, e.content.size(), 4);
    le(common, e.name.size(), 2);
    le(common, 0, 2);  // extra
    out += "PK\x03\x04" + common + e.name + data;
    directory += "PK\x01\x02";
    le(directory, 20, 2);  // version made by
    directory += common;
    le(directory, 0, 2);  // comment
    le(directory, 0, 2);  // disk
    le(directory, 0, 2);  // internal attributes
    le(directory, 0, 4);  // external attributes
    le(directory, offset, 4);
    directory += e.name;
  }
  std::size_t cd_offset = out.size();
  out += directory;
  out += "PK\x05\x06";
  le(out, 0, 4);  // disk numbers
  le(out, entries_.size(), 2);
  le(out, entries_.size(), 2);
  le(out, directory.size(), 4);
  le(out, cd_offset, 4);
  le(out, 0, 2);  // comment
  return out;
}

}  // namespace bw::test
