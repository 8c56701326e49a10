// Manifest documents: OCI image manifest and index, Docker v2 schema 2 manifest and manifest
// list. Parsing and platform selection are pure functions so they can be tested on real
// documents without a registry.
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
// The Accept header for manifest requests, most preferred first.
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media_type

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;

  // "linux/amd64", "linux/arm64/v8".
  std::string str() const;
  bool operator==(const Platform&) const = default;
};

// Parses "os/arch[/variant]"; normalises arch aliases (x86_64 → amd64, aarch64 → arm64).
Result<Platform> parse_platform(std::string_view text);
inline Platform default_platform() {
  return {"linux", "amd64", ""};
}

// True when `have` satisfies `want`: same os and arch; a wanted variant must match, except that
// arm64 treats "v8" and no variant alike; no wanted variant accepts any.
bool platform_matches(const Platform& want, const Platform& have);

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;  // foreign / non-distributable layers
};

enum class ManifestKind { image, index };

struct Manifest {
  ManifestKind kind = ManifestKind::image;
  std::string media_type;             // the effective media type
  Descriptor config;                  // image only
  std::vector<Descriptor> layers;     // image only
  std::vector<Descriptor> manifests;  // index only
  std::map<std::string, std::string> annotations;
};

// Bounds on what one document may name; past them it is Errc::invalid_image.
inline constexpr std::size_t kMaxManifestLayers = 1000;
inline constexpr std::size_t kMaxIndexEntries = 10'000;

// Parses a manifest body. The media type comes from the body's `mediaType` when present,
// else from `content_type`, else from the document's shape. A body type that disagrees with
// a specific Content-Type, schema 1, unknown types and malformed JSON are errors.
Result<Manifest> parse_manifest(std::string_view body, std::string_view content_type);

// Picks the entry of an index for `want`, skipping attestation manifests. The error lists the
// platforms that exist.
Result<Descriptor> select_platform(const Manifest& index, const Platform& want);

// Checks an image config (OCI / Docker) before anything reads it: every field the engine or
// a caller may read has its documented type (strings, arrays of strings, objects, booleans),
// arrays stay within sane counts, and diff_ids are digests. A violation is Errc::invalid_image
// naming the offending field ("history[3].created_by must be a string"). Unknown fields are
// allowed, as the spec asks.
Result<void> validate_image_config(const nlohmann::json& config);

// Parses and validates an image config body (as validate_image_config) and returns the
// platform it names (architecture aliases normalised). Every image source reads configs
// through this.
Result<Platform> config_platform(std::string_view config_body);

// Every runnable platform entry of an index (attestations skipped), in index order.
std::vector<Descriptor> platform_entries(const Manifest& index);

}  // namespace bw
