#include "api/registry_events.h"

#include "common/digest.h"

#include <algorithm>

namespace bw {

namespace {

using nlohmann::json;

std::string text(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_manifest_type(std::string_view media_type) {
  return media_type.find("manifest") != std::string_view::npos ||
         media_type.find("image.index") != std::string_view::npos;
}

// "http://host:port/v2/…" -> "host:port"; "" when it is not such a URL.
std::string url_authority(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  url.remove_prefix(scheme + 3);
  return std::string(url.substr(0, url.find('/')));
}

void add(RegistryEvents& out, const std::string& registry, const std::string& repository,
         const std::string& tag, const std::string& digest) {
  if (registry.empty() || repository.empty() || !is_valid_digest(digest)) {
    ++out.ignored;
    return;
  }
  PushedReference p{registry + "/" + repository + (tag.empty() ? "" : ":" + tag) + "@" + digest};
  if (std::none_of(out.pushes.begin(), out.pushes.end(),
                   [&](const PushedReference& seen) { return seen.image == p.image; }))
    out.pushes.push_back(std::move(p));
}

void read_distribution(const json& events, RegistryEvents& out) {
  for (auto& e : events) {
    const json target = e.is_object() ? e.value("target", json::object()) : json::object();
    // Platform manifests an index names arrive untagged beside it: the tagged push is the one
    // to scan, as a scan of the tag would.
    if (text(e, "action") != "push" || !is_manifest_type(text(target, "mediaType")) ||
        text(target, "tag").empty()) {
      ++out.ignored;
      continue;
    }
    // The registry's own view of its address, else the Host its client used.
    std::string registry = url_authority(text(target, "url"));
    if (registry.empty()) registry = text(e.value("request", json::object()), "host");
    add(out, registry, text(target, "repository"), text(target, "tag"), text(target, "digest"));
  }
}

void read_harbor(const json& body, RegistryEvents& out) {
  const json data = body.value("event_data", json::object());
  const std::string repository = text(data.value("repository", json::object()), "repo_full_name");
  const json resources = data.value("resources", json::array());
  if (!resources.is_array()) return;
  for (auto& r : resources) {
    // resource_url: "harbor.example/library/app:1.0" (or …@sha256:…): its host is the registry.
    std::string url = text(r, "resource_url");
    std::string registry = url.substr(0, url.find('/'));
    if (registry == url) registry.clear();
    add(out, registry, repository, text(r, "tag"), text(r, "digest"));
  }
}

}  // namespace

Result<RegistryEvents> parse_registry_events(const json& body) {
  RegistryEvents out;
  if (body.is_object() && body.contains("events") && body["events"].is_array()) {
    read_distribution(body["events"], out);
    return out;
  }
  if (body.is_object() && body.contains("event_data") && body["event_data"].is_object()) {
    std::string type = text(body, "type");
    if (type == "PUSH_ARTIFACT" || type == "pushImage")
      read_harbor(body, out);
    else
      ++out.ignored;
    return out;
  }
  return make_error(Errc::bad_request,
                    "body must be a registry notification: the distribution registry's "
                    "{\"events\": […]} or Harbor's {\"type\", \"event_data\"}");
}

}  // namespace bw
