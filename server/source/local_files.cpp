#include "source/local_files.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>

namespace bw::detail {
namespace {

// Member names as tar writers spell them ("./blobs/…", "blobs//…") compare as one.
std::string clean(std::string_view name) {
  std::string out;
  while (name.starts_with("./")) name.remove_prefix(2);
  for (char c : name)
    if (!(c == '/' && !out.empty() && out.back() == '/')) out += c;
  return out;
}

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : in_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(in_); }
  Result<std::size_t> read(char* buf, std::size_t n) override {
    in_.read(buf, static_cast<std::streamsize>(n));
    if (in_.bad()) return make_error(Errc::internal, "read error");
    return static_cast<std::size_t>(in_.gcount());
  }

 private:
  std::ifstream in_;
};

class DirectoryFiles : public LocalFiles {
 public:
  explicit DirectoryFiles(std::string root) : root_(std::move(root)) {}
  Result<std::unique_ptr<ByteSource>> open(const std::string& name) override {
    std::string rel = clean(name);
    // Names come from the image's own documents: never leave the layout's directory.
    if (rel.starts_with('/') || rel == ".." || rel.starts_with("../") ||
        rel.find("/../") != std::string::npos)
      return make_error(Errc::invalid_image, "path \"" + rel + "\" leaves the image directory");
    auto file = std::make_unique<FileSource>(root_ + "/" + rel);
    if (!std::filesystem::is_regular_file(root_ + "/" + rel) || !file->ok())
      return make_error(Errc::not_found, "no file " + rel + " in " + root_);
    return std::unique_ptr<ByteSource>(std::move(file));
  }

 private:
  std::string root_;
};

class TarMember : public ByteSource {
 public:
  explicit TarMember(archive* a) : a_(a) {}
  ~TarMember() override { archive_read_free(a_); }
  Result<std::size_t> read(char* buf, std::size_t n) override {
    la_ssize_t got = archive_read_data(a_, buf, n);
    if (got < 0) return make_error(Errc::invalid_image, archive_error_string(a_));
    return static_cast<std::size_t>(got);
  }

 private:
  archive* a_;
};

class TarFiles : public LocalFiles {
 public:
  explicit TarFiles(std::string path) : path_(std::move(path)) {}
  Result<std::unique_ptr<ByteSource>> open(const std::string& name) override {
    std::string want = clean(name);
    archive* a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_filename(a, path_.c_str(), 64 * 1024) != ARCHIVE_OK) {
      std::string why = archive_error_string(a) ? archive_error_string(a) : "unreadable";
      archive_read_free(a);
      return make_error(Errc::not_found, "cannot read " + path_ + ": " + why);
    }
    archive_entry* e = nullptr;
    while (true) {
      int r = archive_read_next_header(a, &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        std::string why = archive_error_string(a) ? archive_error_string(a) : "corrupt";
        archive_read_free(a);
        return make_error(Errc::invalid_image, path_ + " is not a readable tar: " + why);
      }
      const char* p = archive_entry_pathname(e);
      if (p && clean(p) == want && archive_entry_filetype(e) == AE_IFREG)
        return std::unique_ptr<ByteSource>(std::make_unique<TarMember>(a));
    }
    archive_read_free(a);
    return make_error(Errc::not_found, "no member " + want + " in " + path_);
  }

 private:
  std::string path_;
};

class MemoryFiles : public LocalFiles {
 public:
  explicit MemoryFiles(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  Result<std::unique_ptr<ByteSource>> open(const std::string& name) override {
    auto it = files_.find(clean(name));
    if (it == files_.end()) return make_error(Errc::not_found, "no file " + name);
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(it->second));
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace

Result<std::string> LocalFiles::read(const std::string& name, std::uint64_t limit) {
  auto src = open(name);
  if (!src) return src.error();
  std::string out;
  char buf[64 * 1024];
  while (true) {
    auto n = (*src)->read(buf, sizeof buf);
    if (!n) return n.error();
    if (*n == 0) return out;
    if (out.size() + *n > limit)
      return make_error(Errc::invalid_image,
                        name + " is larger than " + std::to_string(limit) + " bytes");
    out.append(buf, *n);
  }
}

std::unique_ptr<LocalFiles> directory_files(std::string root) {
  return std::make_unique<DirectoryFiles>(std::move(root));
}

Result<std::unique_ptr<LocalFiles>> tar_files(std::string path) {
  if (!std::filesystem::is_regular_file(path))
    return make_error(Errc::not_found, "no archive " + path);
  return std::unique_ptr<LocalFiles>(std::make_unique<TarFiles>(std::move(path)));
}

std::unique_ptr<LocalFiles> memory_files(std::map<std::string, std::string> files) {
  return std::make_unique<MemoryFiles>(std::move(files));
}

}  // namespace bw::detail
