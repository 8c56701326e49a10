#include "oci_layout.h"

#include "common/digest.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>

namespace bw::cli {

namespace fs = std::filesystem;

namespace {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// The names an image layout holds; anything else in the archive is refused, so a hostile
// server cannot write outside DIR.
bool layout_name(const std::string& name) {
  if (name == "oci-layout" || name == "index.json") return true;
  constexpr std::string_view kBlobs = "blobs/sha256/";
  if (!name.starts_with(kBlobs) || name.size() != kBlobs.size() + 64) return false;
  return is_valid_digest("sha256:" + name.substr(kBlobs.size()));
}

Result<void> unpack(const std::string& tar, const fs::path& dir) {
  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tar.c_str(), 1 << 20) != ARCHIVE_OK)
    return make_error(Errc::internal, "cannot read " + tar);
  fs::create_directories(dir / "blobs" / "sha256");
  archive_entry* e = nullptr;
  std::vector<char> buf(1 << 20);
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    const std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (archive_entry_filetype(e) != AE_IFREG || !layout_name(name))
      return make_error(Errc::invalid_image,
                        "the archive holds \"" + name.substr(0, 200) + "\", not an image layout");
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    Sha256 hash;
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) {
      out.write(buf.data(), n);
      hash.update(buf.data(), static_cast<std::size_t>(n));
    }
    if (n < 0) return make_error(Errc::invalid_image, "the archive is cut short in " + name);
    if (!out) return make_error(Errc::internal, "cannot write " + name + " into " + dir.string());
    if (name.starts_with("blobs/") && hash.finish() != "sha256:" + name.substr(13))
      return make_error(Errc::digest_mismatch, name + " does not hold what its name says");
  }
  if (rc != ARCHIVE_EOF)
    return make_error(
        Errc::invalid_image,
        std::string("the archive is not a whole tar: ") +
            (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unreadable"));
  for (const char* required : {"oci-layout", "index.json"})
    if (!fs::exists(dir / required))
      return make_error(Errc::invalid_image, std::string("the archive has no ") + required);
  return {};
}

}  // namespace

Result<OciOutput> OciOutput::open(const std::string& where) {
  OciOutput o;
  if (where.starts_with("oci:") && where.size() > 4) {
    o.directory_ = true;
    o.path_ = where.substr(4);
    std::error_code ec;
    if (fs::exists(o.path_, ec) && !fs::is_empty(o.path_, ec))
      return make_error(Errc::bad_request, o.path_ + " is not empty: name a new directory");
    o.partial_ = fs::path(o.path_).lexically_normal().string();
    while (o.partial_.ends_with('/')) o.partial_.pop_back();
    o.partial_ += ".partial.tar";
  } else if (where.starts_with("oci-archive:") && where.size() > 12) {
    o.path_ = where.substr(12);
    o.partial_ = o.path_ + ".partial";
  } else {
    return make_error(Errc::bad_request,
                      "--output for harden is oci:DIR or oci-archive:FILE, not \"" + where + "\"");
  }
  o.file_.reset(std::fopen(o.partial_.c_str(), "wb"));
  if (!o.file_) return make_error(Errc::bad_request, "cannot write " + o.partial_);
  return o;
}

OciOutput::OciOutput(OciOutput&&) noexcept = default;
OciOutput& OciOutput::operator=(OciOutput&&) noexcept = default;

OciOutput::~OciOutput() {
  // Not finished: what was received is not an image.
  if (file_) {
    file_.reset();
    std::error_code ec;
    fs::remove(partial_, ec);
  }
}

bool OciOutput::write(std::string_view piece) {
  return file_ && std::fwrite(piece.data(), 1, piece.size(), file_.get()) == piece.size();
}

Result<std::string> OciOutput::finish() {
  const bool flushed = file_ && std::fflush(file_.get()) == 0;
  file_.reset();
  std::error_code ec;
  if (!flushed) {
    fs::remove(partial_, ec);
    return make_error(Errc::internal, "cannot write " + partial_);
  }
  if (!directory_) {
    fs::rename(partial_, path_, ec);
    if (ec) return make_error(Errc::internal, "cannot write " + path_ + ": " + ec.message());
    return "oci-archive:" + path_;
  }
  const bool existed = fs::exists(path_, ec);
  auto unpacked = unpack(partial_, path_);
  fs::remove(partial_, ec);
  if (!unpacked) {
    if (existed) {
      for (auto& entry : fs::directory_iterator(path_, ec)) fs::remove_all(entry.path(), ec);
    } else {
      fs::remove_all(path_, ec);
    }
    return unpacked.error();
  }
  return "oci:" + path_;
}

}  // namespace bw::cli
