#include "common/digest.h"
#include "source/local_files.h"
#include "source/source.h"

#include <nlohmann/json.hpp>

namespace bw {
namespace {

using boost::asio::awaitable;
using nlohmann::json;

constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
constexpr int kMaxIndexDepth = 3;

std::string blob_name(const std::string& digest) {
  auto colon = digest.find(':');
  return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

// Streams a whole local file through sha256, for the synthesised manifest of a classic
// `docker save` tarball.
Result<std::pair<std::string, std::int64_t>> hash_file(detail::LocalFiles& files,
                                                       const std::string& name) {
  auto src = files.open(name);
  if (!src) return src.error();
  Sha256 hash;
  std::int64_t size = 0;
  std::string buf(256 * 1024, '\0');
  while (true) {
    auto n = (*src)->read(buf.data(), buf.size());
    if (!n) return n.error();
    if (*n == 0) break;
    hash.update(buf.data(), *n);
    size += static_cast<std::int64_t>(*n);
  }
  return std::pair{hash.finish(), size};
}

class LocalImageSource : public ImageSource {
 public:
  // `top` is the image's manifest or index (already verified); `names` maps digests to file
  // names where they are not blobs/ALG/HEX (classic docker save).
  LocalImageSource(std::unique_ptr<detail::LocalFiles> files, std::string top, ImageRef ref,
                   std::map<std::string, std::string> names, std::uint64_t max_doc)
      : files_(std::move(files)),
        top_(std::move(top)),
        ref_(std::move(ref)),
        names_(std::move(names)),
        max_doc_(max_doc) {}

  awaitable<Result<std::pair<std::string, std::vector<Platform>>>> platforms() override {
    using Out = std::pair<std::string, std::vector<Platform>>;
    auto m = parse_manifest(top_, "");
    if (!m) co_return m.error();
    if (m->kind == ManifestKind::index) {
      Out out{sha256_digest(top_), {}};
      for (auto& d : platform_entries(*m))
        if (d.platform) out.second.push_back(*d.platform);
      co_return out;
    }
    auto image = co_await resolve(Platform{}, {});
    if (!image) co_return image.error();
    co_return Out{"", {image->platform}};
  }

  awaitable<Result<ResolvedImage>> resolve(const Platform& platform, const KnownImage&) override {
    co_return resolve_now(platform);
  }

  awaitable<Result<void>> fetch_blob(const ResolvedImage&, const Descriptor& d,
                                     BlobSink sink) override {
    auto src = files_->open(name_of(d.digest));
    if (!src) co_return src.error();
    Sha256 hash;
    std::uint64_t total = 0;
    const std::uint64_t expected = static_cast<std::uint64_t>(d.size);
    while (true) {
      std::string chunk(256 * 1024, '\0');
      auto n = (*src)->read(chunk.data(), chunk.size());
      if (!n) co_return n.error();
      if (*n == 0) break;
      chunk.resize(*n);
      total += *n;
      if (total > expected)
        co_return make_error(Errc::digest_mismatch,
                             "blob " + d.digest + " is larger than its declared size");
      hash.update(chunk.data(), chunk.size());
      if (!co_await sink(std::move(chunk)))
        co_return make_error(Errc::cancelled, "transfer stopped by its consumer");
    }
    if (total != expected)
      co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " has " +
                                                      std::to_string(total) + " bytes, not " +
                                                      std::to_string(expected));
    if (hash.finish() != d.digest)
      co_return make_error(Errc::digest_mismatch, "blob does not hash to " + d.digest);
    co_return Result<void>{};
  }

 private:
  std::string name_of(const std::string& digest) const {
    auto it = names_.find(digest);
    return it != names_.end() ? it->second : blob_name(digest);
  }

  // A document blob, verified against its digest.
  Result<std::string> document(const Descriptor& d) {
    if (d.size < 0 || static_cast<std::uint64_t>(d.size) > max_doc_)
      return make_error(Errc::invalid_image, d.digest + " is larger than the document limit");
    auto body = files_->read(name_of(d.digest), max_doc_);
    if (!body) return body.error();
    if (sha256_digest(*body) != d.digest)
      return make_error(Errc::digest_mismatch, "document does not hash to " + d.digest);
    return body;
  }

  Result<ResolvedImage> resolve_now(const Platform& platform) {
    ResolvedImage out;
    out.ref = ref_;
    std::string body = top_;
    for (int depth = 0;; ++depth) {
      auto m = parse_manifest(body, "");
      if (!m) return m.error();
      std::string digest = sha256_digest(body);
      if (m->kind == ManifestKind::image) {
        out.manifest_digest = digest;
        out.manifest = std::move(*m);
        out.manifest_body = std::move(body);
        break;
      }
      if (depth >= kMaxIndexDepth)
        return make_error(Errc::unsupported_media_type, "index nesting too deep");
      if (out.index_digest.empty()) out.index_digest = digest;
      auto entry = select_platform(*m, platform.os.empty() ? default_platform() : platform);
      if (!entry) return entry.error();
      auto next = document(*entry);
      if (!next) return next.error();
      body = std::move(*next);
    }
    auto config = document(out.manifest.config);
    if (!config) return config.error();
    out.config_body = std::move(*config);
    auto named = config_platform(out.config_body);
    if (!named) return named.error();
    out.platform = std::move(*named);
    return out;
  }

  std::unique_ptr<detail::LocalFiles> files_;
  std::string top_;
  ImageRef ref_;
  std::map<std::string, std::string> names_;
  std::uint64_t max_doc_;
};

// The image an OCI layout's index.json names: the entry tagged `tag`, or its only entry.
Result<std::string> layout_top(detail::LocalFiles& files, const std::string& tag,
                               std::uint64_t max_doc) {
  auto index_text = files.read("index.json", max_doc);
  if (!index_text) return index_text.error();
  auto index = parse_manifest(*index_text, std::string(media_type::kOciIndex));
  if (!index || index->kind != ManifestKind::index)
    return make_error(Errc::invalid_image, "index.json is not an OCI image index");
  std::vector<Descriptor> picked;
  for (auto& d : index->manifests) {
    auto name = d.annotations.find(std::string(kRefName));
    if (tag.empty() ||
        (name != d.annotations.end() && (name->second == tag || name->second.ends_with(":" + tag))))
      picked.push_back(d);
  }
  if (picked.empty()) return make_error(Errc::manifest_unknown, "no image tagged " + tag);
  if (picked.size() > 1)
    return make_error(Errc::bad_reference, "the layout holds several images; name one as PATH:TAG");
  auto body = files.read(blob_name(picked[0].digest), max_doc);
  if (!body) return body.error();
  if (sha256_digest(*body) != picked[0].digest)
    return make_error(Errc::digest_mismatch, "manifest does not hash to " + picked[0].digest);
  return body;
}

// A classic `docker save` tarball: manifest.json names the config and layer files; the
// manifest is synthesised (Docker media types, uncompressed layers hashed as they are).
Result<std::unique_ptr<ImageSource>> docker_classic(std::unique_ptr<detail::LocalFiles> files,
                                                    std::uint64_t max_doc) {
  auto text = files->read("manifest.json", max_doc);
  if (!text) return text.error();
  auto list = json::parse(*text, nullptr, false);
  if (!list.is_array() || list.empty() || !list[0].is_object())
    return make_error(Errc::invalid_image, "manifest.json is not a docker save manifest");
  const json& entry = list[0];
  if (!entry.contains("Config") || !entry["Config"].is_string() || !entry.contains("Layers") ||
      !entry["Layers"].is_array())
    return make_error(Errc::invalid_image, "manifest.json entry lacks Config or Layers");
  std::map<std::string, std::string> names;
  auto describe = [&](const std::string& file, const char* media) -> Result<json> {
    auto h = hash_file(*files, file);
    if (!h) return h.error();
    names[h->first] = file;
    return json{{"mediaType", media}, {"digest", h->first}, {"size", h->second}};
  };
  auto config = describe(entry["Config"].get<std::string>(),
                         "application/vnd.docker.container.image.v1+json");
  if (!config) return config.error();
  json layers = json::array();
  for (auto& l : entry["Layers"]) {
    if (!l.is_string()) return make_error(Errc::invalid_image, "Layers must be file names");
    auto d = describe(l.get<std::string>(), "application/vnd.docker.image.rootfs.diff.tar");
    if (!d) return d.error();
    layers.push_back(std::move(*d));
  }
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", media_type::kDockerManifest},
                   {"config", *config},
                   {"layers", layers}};
  return std::unique_ptr<ImageSource>(std::make_unique<LocalImageSource>(
      std::move(files), manifest.dump(), ImageRef{}, std::move(names), max_doc));
}

}  // namespace

Result<std::unique_ptr<ImageSource>> open_local_source(const SourceSpec& spec,
                                                       std::uint64_t max_doc) {
  std::unique_ptr<detail::LocalFiles> files;
  if (spec.kind == SourceSpec::Kind::oci_layout) {
    files = detail::directory_files(spec.path);
  } else if (spec.kind == SourceSpec::Kind::oci_archive ||
             spec.kind == SourceSpec::Kind::docker_archive) {
    auto t = detail::tar_files(spec.path);
    if (!t) return t.error();
    files = std::move(*t);
  } else {
    return make_error(Errc::bad_request, "not a local source");
  }
  // Docker 25+ writes an OCI layout into `docker save` tarballs (with a manifest.json beside
  // it for older tools): read it as one when index.json is there.
  bool has_index = static_cast<bool>(files->open("index.json"));
  if (spec.kind == SourceSpec::Kind::docker_archive && !has_index)
    return docker_classic(std::move(files), max_doc);
  auto top = layout_top(*files, spec.tag, max_doc);
  if (!top) return top.error();
  return std::unique_ptr<ImageSource>(
      std::make_unique<LocalImageSource>(std::move(files), std::move(*top), ImageRef{},
                                         std::map<std::string, std::string>{}, max_doc));
}

std::unique_ptr<ImageSource> memory_source(std::map<std::string, std::string> blobs,
                                           std::string top_document) {
  std::map<std::string, std::string> files;
  for (auto& [digest, bytes] : blobs) files[blob_name(digest)] = std::move(bytes);
  return std::make_unique<LocalImageSource>(detail::memory_files(std::move(files)),
                                            std::move(top_document), ImageRef{},
                                            std::map<std::string, std::string>{}, 8 << 20);
}

}  // namespace bw
