// Image sources: where an image's manifest, config and layer blobs come from. The scan service
// reads images only through ImageSource, so a registry, an OCI layout directory, an oci-archive
// and a `docker save` tarball are scanned the same way, and tests can feed images from memory.
// Every source verifies what it hands out the same way: manifests and configs against their
// digests (configs also validated field by field), blobs by exact size and sha256.
//
// Not thread-safe: a source is used from the io thread of the scan that opened it.
#pragma once

#include "common/error.h"
#include "registry/registry.h"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bw {

class ImageSource {
 public:
  virtual ~ImageSource() = default;

  // For an index: its digest and every runnable platform (attestations skipped); for a single
  // manifest: no digest and the platform its config names.
  virtual boost::asio::awaitable<Result<std::pair<std::string, std::vector<Platform>>>>
  platforms() = 0;

  // The manifest for `platform` (following indexes) and its config, verified. A source may skip
  // the config when `known` says the manifest is known (ResolvedImage::known); local sources,
  // whose configs cost nothing, always read it.
  virtual boost::asio::awaitable<Result<ResolvedImage>> resolve(const Platform& platform,
                                                                const KnownImage& known) = 0;

  // Streams blob `d` of a resolved image into `sink`. Succeeds only when exactly d.size bytes
  // arrived and their sha256 is d.digest; on an error the caller discards what it derived.
  virtual boost::asio::awaitable<Result<void>> fetch_blob(const ResolvedImage& image,
                                                          const Descriptor& d, BlobSink sink) = 0;
};

// Where a scan's image is: a registry reference, or a local file in skopeo's transport syntax.
struct SourceSpec {
  enum class Kind { registry, oci_layout, oci_archive, docker_archive };
  Kind kind = Kind::registry;
  ImageRef ref;      // registry only
  std::string path;  // local kinds: the directory or archive
  std::string tag;   // oci kinds: the org.opencontainers.image.ref.name to pick; may be empty
  // The normalised text: ref.canonical(), or "oci:/abs/dir:tag", "oci-archive:…",
  // "docker-archive:…".
  std::string canonical() const;
};

// Parses "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE" (local kinds, only
// when `allow_local`), or else an image reference. bad_reference on what parses as neither;
// bad_request for a local source when local sources are not allowed.
Result<SourceSpec> parse_source(std::string_view text, bool allow_local);

// The registry, through `client` (which must outlive the source).
std::unique_ptr<ImageSource> registry_source(RegistryClient& client, ImageRef ref);

// An OCI layout directory, an oci-archive (a tar of one) or a `docker save` tarball (the
// classic manifest.json form, or the OCI layout Docker 25+ writes). Nothing is extracted:
// archives are read in place.
Result<std::unique_ptr<ImageSource>> open_local_source(const SourceSpec& spec,
                                                       std::uint64_t max_document_bytes = 8 << 20);

// An image held in memory (tests): blobs by digest, and the top manifest or index document.
std::unique_ptr<ImageSource> memory_source(std::map<std::string, std::string> blobs,
                                           std::string top_document);

}  // namespace bw
