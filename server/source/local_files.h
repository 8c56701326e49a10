// Files of a local image, read in place: a directory, a tar archive (never extracted), or a
// map in memory. Private to source/.
#pragma once

#include "common/error.h"
#include "layer/byte_source.h"

#include <map>
#include <memory>
#include <string>

namespace bw::detail {

class LocalFiles {
 public:
  virtual ~LocalFiles() = default;
  // A reader positioned at the start of `name` (a path relative to the image's root).
  // not_found when there is no such file.
  virtual Result<std::unique_ptr<ByteSource>> open(const std::string& name) = 0;
  // The whole file, refused past `limit` bytes (documents: index.json, manifests, configs).
  Result<std::string> read(const std::string& name, std::uint64_t limit);
};

std::unique_ptr<LocalFiles> directory_files(std::string root);
// A tar archive: each open() walks the headers to the member, skipping the others' data.
Result<std::unique_ptr<LocalFiles>> tar_files(std::string path);
std::unique_ptr<LocalFiles> memory_files(std::map<std::string, std::string> files);

}  // namespace bw::detail
