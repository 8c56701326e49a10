#include "layer/tar_walk.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <vector>

namespace bw {
namespace {

struct ReadContext {
  ByteSource* source = nullptr;
  std::vector<char> buffer = std::vector<char>(128 * 1024);
  std::optional<Error> source_error;
};

la_ssize_t read_callback(struct archive* a, void* client, const void** out) {
  auto* ctx = static_cast<ReadContext*>(client);
  auto n = ctx->source->read(ctx->buffer.data(), ctx->buffer.size());
  if (!n) {
    ctx->source_error = n.error();
    archive_set_error(a, EIO, "%s", n.error().message.c_str());
    return -1;
  }
  *out = ctx->buffer.data();
  return static_cast<la_ssize_t>(*n);
}

char kind_of(archive_entry* e) {
  if (archive_entry_hardlink(e)) return 'h';
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return 'd';
    case AE_IFLNK:
      return 'l';
    case AE_IFCHR:
      return 'c';
    case AE_IFBLK:
      return 'b';
    case AE_IFIFO:
      return 'p';
    case AE_IFSOCK:
      return 's';
    default:
      return 'f';
  }
}

class ArchiveBody : public EntryBody {
 public:
  explicit ArchiveBody(archive* a) : a_(a) {}
  Result<std::string> read(std::size_t max, bool& truncated) override {
    return read_at(0, max, truncated);
  }
  Result<std::string> read_at(std::uint64_t offset, std::size_t max, bool& truncated) override {
    std::string out;
    truncated = offset < pos_;
    if (truncated) return out;
    while (true) {
      if (have_ == 0) {
        if (eof_) break;
        // The rest of an entry nobody reads is skipped by the next header read.
        if (!buf_) buf_ = std::make_unique<char[]>(kBlock);
        la_ssize_t n = archive_read_data(a_, buf_.get(), kBlock);
        if (n < 0)
          return make_error(Errc::unsupported_media_type,
                            archive_error_string(a_) ? archive_error_string(a_) : "read error");
        if (n == 0) {
          eof_ = true;
          break;
        }
        at_ = 0;
        have_ = static_cast<std::size_t>(n);
      }
      // The buffer holds the entry's bytes [pos_, pos_ + have_).
      if (pos_ + have_ <= offset) {
        pos_ += have_;
        have_ = 0;
        continue;
      }
      if (pos_ < offset) {
        std::size_t skip = static_cast<std::size_t>(offset - pos_);
        at_ += skip;
        have_ -= skip;
        pos_ = offset;
      }
      if (out.size() == max) {
        truncated = true;
        break;
      }
      std::size_t take = std::min(have_, max - out.size());
      out.append(buf_.get() + at_, take);
      at_ += take;
      have_ -= take;
      pos_ += take;
    }
    return out;
  }

 private:
  static constexpr std::size_t kBlock = 64 * 1024;
  archive* a_;
  std::unique_ptr<char[]> buf_;
  std::size_t at_ = 0, have_ = 0;  // unread bytes of buf_
  std::uint64_t pos_ = 0;          // the entry offset of buf_[at_]
  bool eof_ = false;
};

}  // namespace

std::string normalize_entry_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    std::string_view comp = raw.substr(i, j - i);
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    i = j + 1;
  }
  return out;
}

Result<TarWalkResult> walk_tar(ByteSource& tar, std::size_t max_path_bytes,
                               const EntryVisitor& visit) {
  struct Free {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, Free> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  ReadContext ctx;
  ctx.source = &tar;
  TarWalkResult result;
  if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    if (ctx.source_error) return *ctx.source_error;
    result.error =
        archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot open tar";
    return result;
  }
  archive_entry* entry = nullptr;
  while (true) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (ctx.source_error) return *ctx.source_error;
    if (rc == ARCHIVE_FATAL || rc == ARCHIVE_RETRY) {
      const char* why = archive_error_string(a.get());
      result.error = why ? why : "unreadable tar header";
      break;
    }
    // ARCHIVE_WARN (e.g. an undecodable name) still yields an entry.
    ++result.entries;
    const char* name = archive_entry_pathname(entry);
    if (!name) name = archive_entry_pathname_utf8(entry);
    if (!name || std::string_view(name).size() > max_path_bytes) {
      ++result.skipped;
      continue;
    }
    FileEntry fe;
    fe.path = normalize_entry_path(name);
    fe.kind = kind_of(entry);
    fe.mode = static_cast<std::uint32_t>(archive_entry_perm(entry)) & 07777;
    fe.uid = archive_entry_uid(entry);
    fe.gid = archive_entry_gid(entry);
    fe.size = archive_entry_size_is_set(entry)
                  ? static_cast<std::uint64_t>(archive_entry_size(entry))
                  : 0;
    const char* link =
        fe.kind == 'h' ? archive_entry_hardlink(entry) : archive_entry_symlink(entry);
    if (link)
      fe.link =
          fe.kind == 'h' ? normalize_entry_path(link) : std::string(link).substr(0, max_path_bytes);
    // Extended attributes: only file capabilities matter (setuid's finer-grained twin).
    if (archive_entry_xattr_reset(entry) > 0) {
      const char* xname = nullptr;
      const void* xvalue = nullptr;
      std::size_t xsize = 0;
      while (archive_entry_xattr_next(entry, &xname, &xvalue, &xsize) == ARCHIVE_OK)
        if (xname && std::string_view(xname) == "security.capability" && xvalue)
          fe.caps = decode_file_caps(std::string_view(static_cast<const char*>(xvalue), xsize));
    }
    ArchiveBody body(a.get());
    if (!visit(fe, body)) {
      result.stopped = true;
      break;
    }
    if (ctx.source_error) return *ctx.source_error;
  }
  if (ctx.source_error) return *ctx.source_error;
  return result;
}

}  // namespace bw
