// Registry credentials from the places users already keep them, in this order: Bulwark's own
// config; podman's REGISTRY_AUTH_FILE; docker's config.json ($DOCKER_CONFIG or ~/.docker) with
// credHelpers, credsStore (docker-credential-NAME) and auths. Secrets never leave this module
// except as the Authorization header built for the registry they belong to.
#pragma once

#include "common/error.h"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace bw {

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token (docker login with a token)
};

// Looks up an environment variable; nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

class CredentialStore {
 public:
  // `configured`: credentials from Bulwark's config, by normalised registry name.
  CredentialStore(std::map<std::string, Credentials> configured, EnvLookup env,
                  std::chrono::milliseconds helper_timeout = std::chrono::seconds(10));

  // Credentials for a normalised registry name ("docker.io", "host:5000"), or nullopt.
  // Errors only for broken credential files or helpers, never for "none configured".
  Result<std::optional<Credentials>> lookup(const std::string& registry) const;

 private:
  Result<std::optional<Credentials>> from_file(const std::string& path,
                                               const std::string& registry) const;
  Result<std::optional<Credentials>> from_helper(const std::string& helper,
                                                 const std::string& registry) const;

  std::map<std::string, Credentials> configured_;
  EnvLookup env_;
  std::chrono::milliseconds helper_timeout_;
};

// The key docker uses for a registry in config.json and with helpers:
// "https://index.docker.io/v1/" for docker.io, else the registry itself.
std::string docker_server_key(const std::string& registry);

}  // namespace bw
