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

}  // namespace

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
    // OCI allows omitting mediaType: decide by shape.
    m.media_type =
        std::string(j.contains("manifests") ? media_type::kOciIndex : media_type::kOciManifest);
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
