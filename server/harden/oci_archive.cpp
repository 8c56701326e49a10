// A hardened image as an OCI image layout in one tar, streamed: the candidate's layers go from
// their registry to `out` as they arrive, so memory stays at a chunk whatever their size. The
// tar is written by libarchive with no blocking, so each header and piece of data reaches `out`
// as soon as it is framed.
#include "harden/harden.h"

#include "reference/reference.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append_to(archive*, void* pending, const void* buffer, size_t length) {
  static_cast<std::string*>(pending)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// Frames entries into `pending`; the caller hands `pending` to its reader after each call.
class TarFramer {
 public:
  explicit TarFramer(std::string& pending) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    // No blocking: each header and each piece of data is passed on as it is framed.
    archive_write_set_bytes_per_block(a_.get(), 0);
    ok_ = archive_write_open(a_.get(), &pending, nullptr, append_to, nullptr) == ARCHIVE_OK;
  }
  bool ok() const { return ok_; }
  bool header(const std::string& name, std::uint64_t size) {
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    return ok_ = ok_ && archive_write_header(a_.get(), e.get()) == ARCHIVE_OK;
  }
  bool data(std::string_view bytes) {
    return ok_ = ok_ && archive_write_data(a_.get(), bytes.data(), bytes.size()) ==
                            static_cast<la_ssize_t>(bytes.size());
  }
  bool close() { return ok_ = ok_ && archive_write_close(a_.get()) == ARCHIVE_OK; }
  std::string message() const {
    const char* m = archive_error_string(a_.get());
    return m ? m : "cannot write the archive";
  }

 private:
  std::unique_ptr<archive, WriteFree> a_;
  bool ok_ = false;
};

std::string blob_path(const std::string& digest) {
  return "blobs/sha256/" + digest.substr(digest.find(':') + 1);
}

}  // namespace

awaitable<Result<void>> write_oci_archive(RegistryClient& registry, const HardenBuild& b,
                                          BlobSink out) {
  std::string pending;
  TarFramer tar(pending);
  const auto gone = [] { return make_error(Errc::unavailable, "the archive's reader is gone"); };
  // Hands what was framed to the reader.
  auto flush = [&]() -> awaitable<Result<void>> {
    if (!tar.ok()) co_return make_error(Errc::internal, tar.message());
    if (pending.empty()) co_return Result<void>{};
    bool more = co_await out(std::exchange(pending, {}));
    if (!more) co_return gone();
    co_return Result<void>{};
  };
  auto small = [&](const std::string& name, const std::string& body) -> awaitable<Result<void>> {
    tar.header(name, body.size());
    tar.data(body);
    co_return co_await flush();
  };

  // Tagged as the push would have been, else as the image it hardens.
  std::string tag = "latest";
  for (const std::string* ref : {&b.request.image_ref, &b.request.push})
    if (auto r = parse_reference(*ref); !ref->empty() && r && !r->tag.empty()) tag = r->tag;
  const json index = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.index.v1+json"},
                      {"manifests",
                       {{{"mediaType", media_type::kOciManifest},
                         {"digest", b.manifest_digest},
                         {"size", b.manifest_body.size()},
                         {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  if (auto r = co_await small("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !r) co_return r;
  if (auto r = co_await small("index.json", index.dump()); !r) co_return r;
  if (auto r = co_await small(blob_path(b.manifest_digest), b.manifest_body); !r) co_return r;
  if (auto r = co_await small(blob_path(b.config_digest), b.config_body); !r) co_return r;
  if (b.candidate)
    for (auto& d : b.candidate->manifest.layers) {
      tar.header(blob_path(d.digest), d.size);
      if (auto r = co_await flush(); !r) co_return r;
      bool reader_gone = false;
      // fetch_blob checks the size and digest: a blob that is not what the manifest says ends
      // the archive short, which its reader sees as a truncated tar.
      auto fetched =
          co_await registry.fetch_blob(*b.candidate, d, [&](std::string chunk) -> awaitable<bool> {
            tar.data(chunk);
            auto r = co_await flush();
            reader_gone = !r;
            co_return r.has_value();
          });
      if (reader_gone) co_return gone();
      if (!fetched) co_return fetched.error();
    }
  if (auto r = co_await small(blob_path(b.closure.digest), b.closure.blob); !r) co_return r;
  tar.close();
  co_return co_await flush();
}

}  // namespace bw
