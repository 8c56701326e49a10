#include "registry/manifest.h"

#include "common/digest.h"

#include <algorithm>

namespace bw {
namespace {

using nlohmann::json;

std::string normalize_arch(std::string arch) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  return arch;
}

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::map<std::string, std::string> annotations_of(const json& j) {
  std::map<std::string, std::string> out;
  auto it = j.find("annotations");
  if (it == j.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view what) {
  if (!j.is_object())
    return make_error(Errc::unsupported_media_type, std::string(what) + " is not an object");
  Descriptor d;
  d.media_type = str_field(j, "mediaType");
  d.digest = str_field(j, "digest");
  if (!is_valid_digest(d.digest))
    return make_error(
        Errc::unsupported_media_type,
        std::string(what) + " has an invalid digest \"" + d.digest.substr(0, 80) + "\"");
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0)
    return make_error(Errc::unsupported_media_type, std::string(what) + " has no valid size");
  d.size = size->get<std::int64_t>();
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    d.platform = Platform{str_field(*p, "os"), normalize_arch(str_field(*p, "architecture")),
                          str_field(*p, "variant")};
  }
  d.annotations = annotations_of(j);
  if (auto u = j.find("urls"); u != j.end() && u->is_array())
    for (auto& url : *u)
      if (url.is_string()) d.urls.push_back(url.get<std::string>());
  return d;
}

bool is_attestation(const Descriptor& d) {
  auto it = d.annotations.find("vnd.docker.reference.type");
  if (it != d.annotations.end() && it->second == "attestation-manifest") return true;
  return d.platform && d.platform->os == "unknown" && d.platform->architecture == "unknown";
}

bool known_manifest_type(std::string_view t) {
  return t == media_type::kOciManifest || t == media_type::kOciIndex ||
         t == media_type::kDockerManifest || t == media_type::kDockerManifestList;
}

// A registry may answer a generic type for a document whose body says what it is.
bool generic_content_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "text/plain" ||
         ct == "application/octet-stream";
}

std::string_view strip_params(std::string_view ct) {
  auto semi = ct.find(';');
  ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

// Field checks for validate_image_config; each returns the path of the first bad field.
using Check = std::optional<std::string>;

Check want(bool ok, const std::string& path, std::string_view what) {
  if (ok) return std::nullopt;
  return path + " must be " + std::string(what);
}

Check string_or_absent(const json& obj, const char* key, const std::string& at) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  return want(it->is_string(), at + key, "a string");
}

// An array of strings, or null (Docker writes null for an empty Cmd/Entrypoint/Env).
Check strings_or_null(const json& obj, const char* key, const std::string& at, std::size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return at + key + " must be an array of strings";
  if (it->size() > max) return at + key + " has more than " + std::to_string(max) + " entries";
  for (std::size_t i = 0; i < it->size(); ++i)
    if (!(*it)[i].is_string()) return at + key + "[" + std::to_string(i) + "] must be a string";
  return std::nullopt;
}

// An object (of objects, as ExposedPorts and Volumes are), or null.
Check object_or_null(const json& obj, const char* key, const std::string& at, bool string_values,
                     std::size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) return at + key + " must be an object";
  if (it->size() > max) return at + key + " has more than " + std::to_string(max) + " entries";
  if (string_values)
    for (auto& [k, v] : it->items())
      if (!v.is_string()) return at + key + "[\"" + k.substr(0, 100) + "\"] must be a string";
  return std::nullopt;
}

Check check_run_config(const json& c, const std::string& at) {
  if (!c.is_object()) return at.substr(0, at.size() - 1) + " must be an object";
  for (const char* k : {"User", "WorkingDir", "StopSignal", "Hostname", "Domainname", "Image"})
    if (auto e = string_or_absent(c, k, at)) return e;
  for (const char* k : {"Env", "Entrypoint", "Cmd", "Shell", "OnBuild"})
    if (auto e = strings_or_null(c, k, at, 10'000)) return e;
  if (auto e = object_or_null(c, "ExposedPorts", at, false, 10'000)) return e;
  if (auto e = object_or_null(c, "Volumes", at, false, 10'000)) return e;
  if (auto e = object_or_null(c, "Labels", at, true, 10'000)) return e;
  if (auto hc = c.find("Healthcheck"); hc != c.end() && !hc->is_null()) {
    if (!hc->is_object()) return at + "Healthcheck must be an object";
    if (auto e = strings_or_null(*hc, "Test", at + "Healthcheck.", 1'000)) return e;
  }
  return std::nullopt;
}

Check check_config(const json& j) {
  if (!j.is_object()) return std::string("the config must be a JSON object");
  for (const char* k : {"created", "author", "architecture", "os", "variant", "os.version"})
    if (auto e = string_or_absent(j, k, "")) return e;
  if (auto e = strings_or_null(j, "os.features", "", 1'000)) return e;
  for (const char* k : {"config", "container_config"})
    if (auto c = j.find(k); c != j.end() && !c->is_null())
      if (auto e = check_run_config(*c, std::string(k) + ".")) return e;
  if (auto rf = j.find("rootfs"); rf != j.end()) {
    if (!rf->is_object()) return std::string("rootfs must be an object");
    if (auto e = string_or_absent(*rf, "type", "rootfs.")) return e;
    if (auto e = strings_or_null(*rf, "diff_ids", "rootfs.", 100'000)) return e;
    if (auto ids = rf->find("diff_ids"); ids != rf->end() && ids->is_array())
      for (std::size_t i = 0; i < ids->size(); ++i)
        if (!is_valid_digest((*ids)[i].get<std::string>()))
          return "rootfs.diff_ids[" + std::to_string(i) + "] is not a digest";
  }
  if (auto h = j.find("history"); h != j.end() && !h->is_null()) {
    if (!h->is_array()) return std::string("history must be an array");
    if (h->size() > 100'000) return std::string("history has more than 100000 entries");
    for (std::size_t i = 0; i < h->size(); ++i) {
      const json& step = (*h)[i];
      std::string at = "history[" + std::to_string(i) + "].";
      if (!step.is_object()) return at.substr(0, at.size() - 1) + " must be an object";
      for (const char* k : {"created", "created_by", "author", "comment"})
        if (auto e = string_or_absent(step, k, at)) return e;
      if (auto el = step.find("empty_layer"); el != step.end() && !el->is_null())
        if (auto e = want(el->is_boolean(), at + "empty_layer", "a boolean")) return e;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<void> validate_image_config(const json& config) {
  if (auto bad = check_config(config))
    return make_error(Errc::invalid_image, "image config: " + *bad);
  return {};
}

Result<Platform> config_platform(std::string_view config_body) {
  json cj = json::parse(config_body, nullptr, false);
  if (!cj.is_object()) return make_error(Errc::invalid_image, "image config is not a JSON object");
  if (auto valid = validate_image_config(cj); !valid) return valid.error();
  // Normalised as requested platforms are ("x86_64" is amd64), so the two compare.
  return Platform{str_field(cj, "os"), normalize_arch(str_field(cj, "architecture")),
                  str_field(cj, "variant")};
}

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Result<Platform> parse_platform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](auto& s) { return s.empty() || s.size() > 64; }))
    return make_error(Errc::bad_request, "platform must be os/arch[/variant], e.g. linux/arm64");
  for (auto& s : parts)
    for (char c : s)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        return make_error(Errc::bad_request, "platform contains an invalid character");
  p.os = parts[0];
  p.architecture = normalize_arch(parts[1]);
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

bool platform_matches(const Platform& want, const Platform& have) {
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (want.variant.empty()) return true;
  if (want.architecture == "arm64") {
    auto v8 = [](const std::string& v) { return v.empty() || v == "v8"; };
    return v8(want.variant) == v8(have.variant) &&
           (v8(want.variant) || want.variant == have.variant);
  }
  return want.variant == have.variant;
}

Result<Manifest> parse_manifest(std::string_view body, std::string_view content_type) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return make_error(Errc::unsupported_media_type, "manifest is not a JSON object");

  std::string_view ct = strip_params(content_type);
  std::string body_type = str_field(j, "mediaType");
  auto schema = j.find("schemaVersion");
  if (schema != j.end() && schema->is_number_integer() && schema->get<int>() == 1)
    return make_error(Errc::unsupported_media_type,
                      "unsupported legacy manifest (Docker v2 schema 1); push the image again "
                      "with a current client");
  if (ct == media_type::kDockerSchema1 || ct == media_type::kDockerSchema1Signed)
    return make_error(Errc::unsupported_media_type,
                      "unsupported legacy manifest (Docker v2 schema 1)");
  if (schema == j.end() || !schema->is_number_integer() || schema->get<int>() != 2)
    return make_error(Errc::unsupported_media_type, "manifest schemaVersion must be 2");

  Manifest m;
  if (!body_type.empty()) {
    if (!generic_content_type(ct) && ct != body_type)
      return make_error(Errc::unsupported_media_type, "manifest mediaType \"" + body_type +
                                                          "\" disagrees with Content-Type \"" +
                                                          std::string(ct) + "\"");
    m.media_type = body_type;
  } else if (!generic_content_type(ct)) {
    m.media_type = std::string(ct);
  } else {
    // OCI allows omitting mediaType: decide by shape, and a config typed as Docker's image
    // config makes it Docker's v2 schema 2 (as containers/image guesses).
    auto cfg = j.find("config");
    bool docker_config =
        cfg != j.end() && cfg->is_object() &&
        cfg->value("mediaType", "") == "application/vnd.docker.container.image.v1+json";
    m.media_type = std::string(j.contains("manifests") ? media_type::kOciIndex
                               : docker_config         ? media_type::kDockerManifest
                                                       : media_type::kOciManifest);
  }
  if (!known_manifest_type(m.media_type))
    return make_error(Errc::unsupported_media_type,
                      "unsupported manifest media type \"" + m.media_type.substr(0, 200) + "\"");

  m.annotations = annotations_of(j);
  if (m.media_type == media_type::kOciIndex || m.media_type == media_type::kDockerManifestList) {
    m.kind = ManifestKind::index;
    auto ms = j.find("manifests");
    if (ms == j.end() || !ms->is_array())
      return make_error(Errc::unsupported_media_type, "index has no manifests array");
    if (ms->size() > kMaxIndexEntries)
      return make_error(Errc::invalid_image,
                        "index has more than " + std::to_string(kMaxIndexEntries) + " entries");
    for (auto& e : *ms) {
      auto d = parse_descriptor(e, "index entry");
      if (!d) return d.error();
      m.manifests.push_back(std::move(*d));
    }
    return m;
  }
  auto cfg = j.find("config");
  if (cfg == j.end()) return make_error(Errc::unsupported_media_type, "manifest has no config");
  auto c = parse_descriptor(*cfg, "config");
  if (!c) return c.error();
  m.config = std::move(*c);
  auto ls = j.find("layers");
  if (ls == j.end() || !ls->is_array())
    return make_error(Errc::unsupported_media_type, "manifest has no layers array");
  // Real images stay far below this (overlay file systems stop at 128 layers); more is a
  // manifest made to make the server fetch without end.
  if (ls->size() > kMaxManifestLayers)
    return make_error(Errc::invalid_image, "manifest has " + std::to_string(ls->size()) +
                                               " layers, more than " +
                                               std::to_string(kMaxManifestLayers));
  for (auto& e : *ls) {
    auto d = parse_descriptor(e, "layer");
    if (!d) return d.error();
    m.layers.push_back(std::move(*d));
  }
  return m;
}

std::vector<Descriptor> platform_entries(const Manifest& index) {
  std::vector<Descriptor> out;
  for (auto& d : index.manifests)
    if (!is_attestation(d)) out.push_back(d);
  return out;
}

Result<Descriptor> select_platform(const Manifest& index, const Platform& want) {
  std::string available;
  // Exact variant first; a variant-less want then takes the first entry of its os/arch.
  for (auto& d : platform_entries(index)) {
    if (!d.platform) continue;
    if (platform_matches(want, *d.platform)) return d;
    if (!available.empty()) available += ", ";
    available += d.platform->str();
  }
  if (available.empty()) available = "none";
  return make_error(Errc::platform_not_found,
                    "no manifest for platform " + want.str() + "; available: " + available);
}

}  // namespace bw
