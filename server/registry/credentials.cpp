#include "registry/credentials.h"

#include "common/subprocess.h"
#include "reference/reference.h"

#include <boost/beast/core/detail/base64.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace bw {

using nlohmann::json;

namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string base64_decode(std::string_view in) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::decoded_size(in.size()), '\0');
  auto [written, read] = b64::decode(out.data(), in.data(), in.size());
  out.resize(written);
  return out;
}

// An "auths" entry: {"auth": base64(user:pass)} or {"username","password"}, plus "identitytoken".
std::optional<Credentials> from_auth_entry(const json& e) {
  if (!e.is_object()) return std::nullopt;
  Credentials c;
  if (auto a = e.find("auth"); a != e.end() && a->is_string() && !a->get<std::string>().empty()) {
    std::string plain = base64_decode(a->get<std::string>());
    auto colon = plain.find(':');
    if (colon == std::string::npos) return std::nullopt;
    c.username = plain.substr(0, colon);
    c.password = plain.substr(colon + 1);
  } else {
    c.username = e.value("username", "");
    c.password = e.value("password", "");
  }
  c.identity_token = e.value("identitytoken", "");
  if (c.username.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

// The value of `obj` whose key normalises to `registry` ("https://ghcr.io" and "ghcr.io" alike).
const json* find_registry_key(const json& obj, const std::string& registry) {
  if (!obj.is_object()) return nullptr;
  for (auto& [k, v] : obj.items())
    if (normalize_registry(k) == registry) return &v;
  return nullptr;
}

}  // namespace

std::string docker_server_key(const std::string& registry) {
  return registry == kDockerHub ? "https://index.docker.io/v1/" : registry;
}

CredentialStore::CredentialStore(std::map<std::string, Credentials> configured, EnvLookup env,
                                 std::chrono::milliseconds helper_timeout)
    : configured_(std::move(configured)), env_(std::move(env)), helper_timeout_(helper_timeout) {}

Result<std::optional<Credentials>> CredentialStore::lookup(const std::string& registry) const {
  if (auto it = configured_.find(registry); it != configured_.end())
    return std::optional(it->second);
  if (const char* f = env_("REGISTRY_AUTH_FILE")) {
    auto c = from_file(f, registry);
    if (!c || *c) return c;
  }
  // Where `podman login` writes when REGISTRY_AUTH_FILE is not set.
  if (const char* run = env_("XDG_RUNTIME_DIR"); run && *run) {
    auto c = from_file(std::string(run) + "/containers/auth.json", registry);
    if (!c || *c) return c;
  }
  std::string dir;
  if (const char* d = env_("DOCKER_CONFIG"))
    dir = d;
  else if (const char* home = env_("HOME"))
    dir = std::string(home) + "/.docker";
  if (!dir.empty()) return from_file(dir + "/config.json", registry);
  return std::optional<Credentials>();
}

Result<std::optional<Credentials>> CredentialStore::from_file(const std::string& path,
                                                              const std::string& registry) const {
  auto text = read_text(path);
  if (!text) return std::optional<Credentials>();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object())
    return make_error(Errc::registry_auth_failed, "credential file " + path + " is not valid JSON");
  if (auto helpers = j.find("credHelpers"); helpers != j.end())
    if (auto* h = find_registry_key(*helpers, registry); h && h->is_string())
      return from_helper(h->get<std::string>(), registry);
  if (auto store = j.find("credsStore");
      store != j.end() && store->is_string() && !store->get<std::string>().empty()) {
    auto c = from_helper(store->get<std::string>(), registry);
    if (!c || *c) return c;
  }
  if (auto auths = j.find("auths"); auths != j.end())
    if (auto* e = find_registry_key(*auths, registry)) return from_auth_entry(*e);
  return std::optional<Credentials>();
}

Result<std::optional<Credentials>> CredentialStore::from_helper(const std::string& helper,
                                                                const std::string& registry) const {
  // The helper protocol: "get" with the server URL on stdin, JSON {ServerURL, Username, Secret}
  // on stdout; a non-zero exit means "no credentials for that server".
  for (char c : helper)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return make_error(Errc::registry_auth_failed, "invalid credential helper name");
  auto r = run_subprocess({"docker-credential-" + helper, "get"}, docker_server_key(registry),
                          helper_timeout_);
  if (!r) {
    if (r.error().code == Errc::not_found) return std::optional<Credentials>();
    return make_error(Errc::registry_auth_failed,
                      "credential helper " + helper + ": " + r.error().message);
  }
  if (r->exit_code != 0) return std::optional<Credentials>();
  json j = json::parse(r->out, nullptr, false);
  if (!j.is_object() || !j.contains("Secret"))
    return make_error(Errc::registry_auth_failed,
                      "credential helper " + helper + " answered malformed JSON");
  Credentials c;
  std::string user = j.value("Username", "");
  if (user == "<token>")
    c.identity_token = j.value("Secret", "");
  else {
    c.username = user;
    c.password = j.value("Secret", "");
  }
  return std::optional(std::move(c));
}

}  // namespace bw
