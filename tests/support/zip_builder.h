// Zip archives (jars) built in memory, as `jar` and Maven write them: local headers, deflated
// or stored entries, a central directory.
#pragma once

#include <string>
#include <vector>

namespace bw::test {

class ZipBuilder {
 public:
  ZipBuilder& deflated(const std::string& name, const std::string& content);
  // Stored as is: Spring Boot stores its nested jars this way.
  ZipBuilder& stored(const std::string& name, const std::string& content);
  std::string build() const;

 private:
  struct Entry {
    std::string name, content;
    bool deflate;
  };
  std::vector<Entry> entries_;
};

}  // namespace bw::test
