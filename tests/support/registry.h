// A real registry for integration tests: Debian's docker-registry (distribution v2) on a free
// loopback port with its own storage directory, and a helper that pushes images the tests
// build (blobs by monolithic upload, then the manifest).
#pragma once

#include "fault_server.h"
#include "process.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bw::test {

// How a LocalRegistry guards itself.
struct RegistrySetup {
  std::string tls_cert, tls_key;  // PEM files: serve HTTPS
  std::string htpasswd;           // file: basic auth
  // Bearer tokens like Docker Hub: the token service's realm URL, service and issuer names, and
  // the certificate whose key signs the tokens.
  std::string token_realm, token_service, token_issuer, token_cert;
  // Push notifications (`notifications.endpoints`) to this URL, with this bearer token if set.
  std::string notify_url = {}, notify_token = {};
};

class LocalRegistry {
 public:
  explicit LocalRegistry(RegistrySetup setup = {});
  ~LocalRegistry();

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& storage() const { return storage_; }
  // Everything the registry logged, access log included.
  std::string log() const { return read_file(log_path_); }
  // How many GET requests for this blob digest the registry has served.
  int blob_gets(const std::string& digest) const;
  // How many `method` requests (GET, HEAD…) for a path starting with `prefix` ("/v2/a/b/") and
  // containing `part` it has served.
  int requests(const std::string& method, const std::string& prefix,
               const std::string& part = "") const;

  void stop();
  void start();

 private:
  TempDir dir_;
  unsigned short port_;
  RegistrySetup setup_;
  std::string storage_;
  std::string log_path_;
  std::unique_ptr<Process> proc_;
};

struct TestLayer {
  std::string blob;  // as pushed (compressed or not)
  std::string media_type;
  std::string diff_id;  // sha256 of the uncompressed tar
  std::string digest() const;
};

enum class LayerCompression { gzip, zstd, none };
TestLayer make_layer(const std::string& tar, LayerCompression c = LayerCompression::gzip,
                     bool docker_media_type = false);

struct TestImage {
  explicit TestImage(std::vector<TestLayer> l = {}) : layers(std::move(l)) {}
  std::vector<TestLayer> layers;
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
  nlohmann::json config = nlohmann::json::object();       // the "config" section (User, Env, …)
  bool docker_media_types = false;                        // Docker v2 schema 2 instead of OCI
  nlohmann::json history = nlohmann::json::array();       // config.history entries
  nlohmann::json annotations = nlohmann::json::object();  // manifest annotations
  std::string created = "2026-01-01T00:00:00Z";
};

struct PushedImage {
  std::string manifest_digest;
  std::string config_digest;
  std::string manifest;
  std::string media_type;
  std::int64_t size = 0;
};

// An image's blobs (config and layers) and manifest, built but not pushed.
struct BuiltImage {
  std::vector<std::string> blobs;
  std::string manifest;
  std::string media_type;
  PushedImage descriptor() const;
};
BuiltImage build_image(const TestImage& image);

// Writes an OCI layout in `dir`: every blob of `images`, their manifests, and `top` (a manifest
// or index document of `media_type`) named by each of `tags` in index.json.
void write_oci_layout(const std::string& dir, const std::vector<BuiltImage>& images,
                      const std::string& top, const std::string& media_type,
                      const std::vector<std::string>& tags);

// Writes an OCI layout holding `top` (a manifest or index document of `media_type`) tagged
// `tag`, with every blob and manifest it needs, and copies it with skopeo (`--all`) to
// `dest` ("docker://host/repo:tag"). `extra` are further skopeo arguments (credentials, certs;
// "--format v2s2" converts to Docker media types, manifest lists included, and new digests).
void skopeo_push(const std::vector<BuiltImage>& images, const std::string& top,
                 const std::string& media_type, const std::string& dest,
                 const std::vector<std::string>& extra = {});

// An index or manifest list document over built images.
std::string index_document(const std::vector<std::pair<BuiltImage, TestImage>>& entries,
                           bool docker_list);

// A registry's answer for `built` served by a FaultServer (for faults a real registry will not
// make): /v2/, the manifest under any tag, and every blob; blobs for which `drip` is non-zero
// are sent a byte at a time with that pause (a slow transfer to interrupt or watch).
Reply serve_built_image(
    const BuiltImage& built, const SeenRequest& req,
    const std::function<std::chrono::milliseconds(const std::string& blob)>& drip = {});

// Pushes blobs and manifest; `tag` empty pushes by digest only.
PushedImage push_image(const std::string& registry, const std::string& repo, const std::string& tag,
                       const TestImage& image);

// Pushes an index (OCI) or manifest list (Docker) over already pushed images.
std::string push_index(const std::string& registry, const std::string& repo, const std::string& tag,
                       const std::vector<std::pair<PushedImage, TestImage>>& entries,
                       bool docker_list,
                       const nlohmann::json& extra_entries = nlohmann::json::array());

}  // namespace bw::test
