// Image references: `[registry/]repository[:tag][@digest]`, parsed with the grammar of
// distribution/reference and normalised as the docker CLI does (`nginx` means
// `docker.io/library/nginx:latest`). Knows nothing about the network.
#pragma once

#include "common/error.h"

#include <string>
#include <string_view>

namespace bw {

inline constexpr std::string_view kDockerHub = "docker.io";
// The host that serves docker.io's registry API.
inline constexpr std::string_view kDockerHubHost = "registry-1.docker.io";

struct ImageRef {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  std::string repository;  // "library/nginx"
  std::string tag;         // empty only when digest is set and no tag was given
  std::string digest;      // "sha256:…" or empty

  // The fully qualified form: "docker.io/library/nginx:latest", with "@digest" when set.
  std::string canonical() const;
  // The registry's API host and port: "registry-1.docker.io" for docker.io, else `registry`.
  std::string api_host() const;
  // What to ask the registry for: the digest when known, else the tag.
  const std::string& manifest_reference() const { return digest.empty() ? tag : digest; }

  bool operator==(const ImageRef&) const = default;
};

// Parses and normalises. Errors are Errc::bad_reference with a message naming the fault.
Result<ImageRef> parse_reference(std::string_view text);

// Normalises a registry name as users write it in configs and credentials:
// "index.docker.io", "registry-1.docker.io" and "https://index.docker.io/v1/" are "docker.io";
// a scheme and trailing path are dropped.
std::string normalize_registry(std::string_view name);

// Host part of "host:port" or "[v6]:port" (brackets removed), and whether it names a
// loopback address ("localhost", 127.0.0.0/8, ::1).
std::string registry_hostname(std::string_view registry);
bool is_loopback_registry(std::string_view registry);

}  // namespace bw
