#include "harden/closure_layer.h"

#include "common/digest.h"
#include "common/gzip.h"
#include "score/score.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <set>

namespace bw {

namespace {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};

// "./app/x", "/app/x/" -> "app/x", as layer facts name paths.
std::string normalised(const char* name) {
  std::string_view p = name ? name : "";
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.starts_with("/")) p.remove_prefix(1);
  while (p.ends_with("/")) p.remove_suffix(1);
  return std::string(p);
}

struct Output {
  std::string tar;
  std::uint64_t max = 0;
  bool over = false;
};

la_ssize_t write_callback(archive*, void* client, const void* buffer, size_t length) {
  auto* out = static_cast<Output*>(client);
  if (out->tar.size() + length > out->max) {
    out->over = true;
    return -1;
  }
  out->tar.append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// Whether an upper layer's whiteout hides `path` of a lower one: "d/" hides what is under d
// (an opaque directory), "p" hides p and what is under it.
bool hidden(const std::set<std::string>& whiteouts, const std::string& path) {
  for (auto& w : whiteouts) {
    if (w.ends_with("/") ? path.starts_with(w)
                         : path == w || (path.starts_with(w) && path[w.size()] == '/'))
      return true;
  }
  return false;
}

std::string archive_message(archive* a, const char* fallback) {
  const char* e = archive_error_string(a);
  return e ? e : fallback;
}

}  // namespace

Result<ClosureLayer> build_closure_layer(const std::vector<std::string>& layers,
                                         const std::vector<std::string>& closure,
                                         std::uint64_t max_tar_bytes) {
  Output out;
  out.max = max_tar_bytes;
  std::unique_ptr<archive, WriteFree> w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  if (archive_write_open(w.get(), &out, nullptr, write_callback, nullptr) != ARCHIVE_OK)
    return make_error(Errc::internal, archive_message(w.get(), "cannot start the layer"));

  ClosureLayer layer;
  std::set<std::string> written, whiteouts;
  std::string buf(1 << 16, '\0');
  // Top layer first: the first time a path is seen is the version that survives.
  for (std::size_t i = layers.size(); i-- > 0;) {
    std::unique_ptr<archive, ReadFree> r(archive_read_new());
    archive_read_support_filter_all(r.get());
    archive_read_support_format_tar(r.get());
    if (archive_read_open_memory(r.get(), layers[i].data(), layers[i].size()) != ARCHIVE_OK)
      return make_error(Errc::invalid_image, "layer " + std::to_string(i) + " of the image: " +
                                                 archive_message(r.get(), "not a tar"));
    std::set<std::string> this_layer, its_whiteouts;
    archive_entry* e = nullptr;
    while (true) {
      int rc = archive_read_next_header(r.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN)
        return make_error(Errc::invalid_image, "layer " + std::to_string(i) + " of the image: " +
                                                   archive_message(r.get(), "unreadable entry"));
      const std::string path = normalised(archive_entry_pathname(e));
      const auto slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
      const std::string name = path.substr(dir.size());
      if (name == ".wh..wh..opq") {
        its_whiteouts.insert(dir);
        continue;
      }
      if (name.starts_with(".wh.")) {
        its_whiteouts.insert(dir + name.substr(4));
        continue;
      }
      if (path.empty() || !in_closure(closure, path) || written.count(path) ||
          this_layer.count(path) || hidden(whiteouts, path))
        continue;
      if (const char* target = archive_entry_hardlink(e)) {
        const std::string t = normalised(target);
        if (!written.count(t) && !this_layer.count(t)) continue;
        archive_entry_set_hardlink(e, t.c_str());
      }
      archive_entry_set_pathname(e, path.c_str());
      if (archive_write_header(w.get(), e) != ARCHIVE_OK)
        return out.over ? make_error(Errc::conflict, "the app's closure is larger than " +
                                                         std::to_string(max_tar_bytes) + " bytes")
                        : make_error(Errc::internal, archive_message(w.get(), "cannot write"));
      if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
        while (true) {
          la_ssize_t n = archive_read_data(r.get(), buf.data(), buf.size());
          if (n < 0)
            return make_error(Errc::invalid_image, "layer " + std::to_string(i) + ": " +
                                                       archive_message(r.get(), "read error"));
          if (n == 0) break;
          if (archive_write_data(w.get(), buf.data(), static_cast<size_t>(n)) != n)
            return out.over
                       ? make_error(Errc::conflict, "the app's closure is larger than " +
                                                        std::to_string(max_tar_bytes) + " bytes")
                       : make_error(Errc::internal, archive_message(w.get(), "cannot write"));
        }
      this_layer.insert(path);
      ++layer.entries;
    }
    written.insert(this_layer.begin(), this_layer.end());
    whiteouts.insert(its_whiteouts.begin(), its_whiteouts.end());
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK)
    return make_error(Errc::internal, archive_message(w.get(), "cannot finish the layer"));
  layer.diff_id = sha256_digest(out.tar);
  layer.blob = gzip_compress(out.tar);
  if (layer.blob.empty() && !out.tar.empty())
    return make_error(Errc::internal, "the closure layer could not be compressed");
  layer.digest = sha256_digest(layer.blob);
  return layer;
}

}  // namespace bw
