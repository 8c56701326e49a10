#include "registry.h"

#include "api_client.h"
#include "tar_builder.h"

#include <boost/url/parse.hpp>

#include <signal.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace bw::test {

namespace {

cli::ApiClient client_for(const std::string& registry) {
  auto c = cli::ApiClient::create("http://" + registry);
  if (!c) throw std::runtime_error(c.error().message);
  return *c;
}

void put_blob(const cli::ApiClient& api, const std::string& repo, const std::string& blob) {
  std::string digest = sha256(blob);
  auto head = api.call("HEAD", "/v2/" + repo + "/blobs/" + digest);
  if (head && head->status == 200) return;
  auto start = api.call("POST", "/v2/" + repo + "/blobs/uploads/", "", std::chrono::seconds(30),
                        "application/octet-stream");
  if (!start || start->status != 202) throw std::runtime_error("upload start failed for " + repo);
  std::string location = start->header("Location");  // the view below points into it
  auto loc = boost::urls::parse_uri_reference(location);
  if (!loc) throw std::runtime_error("bad upload Location");
  std::string target = std::string(loc->encoded_path());
  std::string query = std::string(loc->encoded_query());
  target += "?" + (query.empty() ? "" : query + "&") + "digest=" + digest;
  auto put = api.call("PUT", target, blob, std::chrono::seconds(120), "application/octet-stream");
  if (!put || put->status != 201)
    throw std::runtime_error(
        "blob upload failed: " +
        (put ? std::to_string(put->status) + " " + put->body : put.error().message));
}

std::string put_manifest(const cli::ApiClient& api, const std::string& repo, const std::string& ref,
                         const std::string& body, const std::string& media_type) {
  auto r = api.call("PUT", "/v2/" + repo + "/manifests/" + ref, body, std::chrono::seconds(30),
                    media_type);
  if (!r || r->status != 201)
    throw std::runtime_error("manifest push failed: " +
                             (r ? std::to_string(r->status) + " " + r->body : r.error().message));
  return sha256(body);
}

}  // namespace

LocalRegistry::LocalRegistry(RegistrySetup setup) : port_(free_port()), setup_(std::move(setup)) {
  storage_ = dir_.path() + "/storage";
  log_path_ = dir_.path() + "/registry.log";
  std::string yml =
      "version: 0.1\n"
      "log:\n  level: info\n  accesslog:\n    disabled: false\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      storage_ +
      "\n  delete:\n    enabled: true\n"
      "http:\n  addr: 127.0.0.1:" +
      std::to_string(port_) + "\n  secret: bulwark-test\n";
  if (!setup_.tls_cert.empty())
    yml += "  tls:\n    certificate: " + setup_.tls_cert + "\n    key: " + setup_.tls_key + "\n";
  if (!setup_.htpasswd.empty())
    yml += "auth:\n  htpasswd:\n    realm: bulwark-test\n    path: " + setup_.htpasswd + "\n";
  else if (!setup_.token_realm.empty())
    yml += "auth:\n  token:\n    realm: " + setup_.token_realm +
           "\n    service: " + setup_.token_service + "\n    issuer: " + setup_.token_issuer +
           "\n    rootcertbundle: " + setup_.token_cert + "\n";
  if (!setup_.notify_url.empty()) {
    yml += "notifications:\n  endpoints:\n    - name: bulwark\n      url: " + setup_.notify_url +
           "\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n";
    if (!setup_.notify_token.empty())
      yml += "      headers:\n        Authorization: [Bearer " + setup_.notify_token + "]\n";
  }
  write_file(dir_.path() + "/config.yml", yml);
  start();
}

LocalRegistry::~LocalRegistry() {
  stop();
}

void LocalRegistry::start() {
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{"docker-registry", "serve", dir_.path() + "/config.yml"}, log_path_,
      log_path_);
  // Ready when this process says it listens on our port (another server that took the port in
  // the meantime would otherwise answer the probe: docker-registry exits on a bind error) and
  // /v2/ answers (401 under auth); TLS registries are probed with curl.
  const std::string listening = "listening on 127.0.0.1:" + std::to_string(port_);
  for (int i = 0; i < 400; ++i) {
    if (log().find(listening) == std::string::npos) {
      if (!proc_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (setup_.tls_cert.empty()) {
      auto r = client_for(host()).call("GET", "/v2/", "", std::chrono::seconds(2));
      if (r && (r->status == 200 || r->status == 401)) return;
    } else {
      std::string out;
      if (run_command({"curl", "-s", "-o", "/dev/null", "--cacert", setup_.tls_cert,
                       "https://" + host() + "/v2/"},
                      out) == 0)
        return;
    }
    if (!proc_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("docker-registry did not start; log:\n" + log());
}

void LocalRegistry::stop() {
  if (proc_) proc_->stop(SIGTERM);
  proc_.reset();
}

int LocalRegistry::blob_gets(const std::string& digest) const {
  return requests("GET", "/v2/", "/blobs/" + digest);
}

int LocalRegistry::requests(const std::string& method, const std::string& prefix,
                            const std::string& part) const {
  auto count = [&] {
    std::string text = log();
    std::string needle = "\"" + method + " " + prefix;
    int n = 0;
    for (std::size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos;
         pos += needle.size()) {
      std::size_t eol = text.find('\n', pos);
      std::string_view line(text.data() + pos,
                            (eol == std::string::npos ? text.size() : eol) - pos);
      if (line.find(part) != std::string_view::npos) ++n;
    }
    return n;
  };
  // The registry writes its access log after it answers: read until two reads agree.
  int last = count();
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int now = count();
    if (now == last) break;
    last = now;
  }
  return last;
}

std::string TestLayer::digest() const {
  return sha256(blob);
}

TestLayer make_layer(const std::string& tar, LayerCompression c, bool docker_media_type) {
  TestLayer l;
  l.diff_id = sha256(tar);
  switch (c) {
    case LayerCompression::gzip:
      l.blob = gzip(tar);
      l.media_type = docker_media_type ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                       : "application/vnd.oci.image.layer.v1.tar+gzip";
      break;
    case LayerCompression::zstd:
      l.blob = zstd(tar);
      l.media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
      break;
    case LayerCompression::none:
      l.blob = tar;
      l.media_type = "application/vnd.oci.image.layer.v1.tar";
      break;
  }
  return l;
}

BuiltImage build_image(const TestImage& image) {
  nlohmann::json diff_ids = nlohmann::json::array();
  for (auto& l : image.layers) diff_ids.push_back(l.diff_id);
  nlohmann::json config = {{"architecture", image.architecture},
                           {"os", image.os},
                           {"created", image.created},
                           {"config", image.config},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  if (!image.variant.empty()) config["variant"] = image.variant;
  if (!image.history.empty()) config["history"] = image.history;
  BuiltImage out;
  std::string config_body = config.dump();
  out.blobs.push_back(config_body);
  nlohmann::json layers = nlohmann::json::array();
  for (auto& l : image.layers) {
    out.blobs.push_back(l.blob);
    layers.push_back(
        {{"mediaType", l.media_type}, {"digest", sha256(l.blob)}, {"size", l.blob.size()}});
  }
  out.media_type = image.docker_media_types ? "application/vnd.docker.distribution.manifest.v2+json"
                                            : "application/vnd.oci.image.manifest.v1+json";
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", out.media_type},
      {"config",
       {{"mediaType", image.docker_media_types ? "application/vnd.docker.container.image.v1+json"
                                               : "application/vnd.oci.image.config.v1+json"},
        {"digest", sha256(config_body)},
        {"size", config_body.size()}}},
      {"layers", layers}};
  if (!image.annotations.empty()) manifest["annotations"] = image.annotations;
  out.manifest = manifest.dump();
  return out;
}

Reply serve_built_image(const BuiltImage& built, const SeenRequest& req,
                        const std::function<std::chrono::milliseconds(const std::string&)>& drip) {
  if (req.target == "/v2/") return Reply{200, {}, "{}"};
  if (req.target.find("/manifests/") != std::string::npos)
    return Reply{200, {{"Content-Type", built.media_type}}, built.manifest};
  for (auto& b : built.blobs)
    if (req.target.ends_with(sha256(b))) {
      Reply r{200, {}, b};
      if (drip) r.drip = drip(b);
      return r;
    }
  return Reply{404, {}, "{}"};
}

PushedImage BuiltImage::descriptor() const {
  return PushedImage{sha256(manifest), sha256(blobs.at(0)), manifest, media_type,
                     static_cast<std::int64_t>(manifest.size())};
}

std::string index_document(const std::vector<std::pair<BuiltImage, TestImage>>& entries,
                           bool docker_list) {
  nlohmann::json manifests = nlohmann::json::array();
  for (auto& [built, image] : entries) {
    nlohmann::json platform = {{"os", image.os}, {"architecture", image.architecture}};
    if (!image.variant.empty()) platform["variant"] = image.variant;
    manifests.push_back({{"mediaType", built.media_type},
                         {"digest", sha256(built.manifest)},
                         {"size", built.manifest.size()},
                         {"platform", platform}});
  }
  std::string media_type = docker_list ? "application/vnd.docker.distribution.manifest.list.v2+json"
                                       : "application/vnd.oci.image.index.v1+json";
  return nlohmann::json{{"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", manifests}}
      .dump();
}

void write_oci_layout(const std::string& dir, const std::vector<BuiltImage>& images,
                      const std::string& top, const std::string& media_type,
                      const std::vector<std::string>& tags) {
  auto put = [&](const std::string& data) {
    write_file(dir + "/blobs/sha256/" + sha256(data).substr(7), data);
  };
  for (auto& im : images) {
    for (auto& b : im.blobs) put(b);
    put(im.manifest);
  }
  put(top);
  write_file(dir + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
  nlohmann::json manifests = nlohmann::json::array();
  for (auto& tag : tags)
    manifests.push_back({{"mediaType", media_type},
                         {"digest", sha256(top)},
                         {"size", top.size()},
                         {"annotations", {{"org.opencontainers.image.ref.name", tag}}}});
  write_file(dir + "/index.json",
             nlohmann::json{{"schemaVersion", 2},
                            {"mediaType", "application/vnd.oci.image.index.v1+json"},
                            {"manifests", manifests}}
                 .dump());
}

void skopeo_push(const std::vector<BuiltImage>& images, const std::string& top,
                 const std::string& media_type, const std::string& dest,
                 const std::vector<std::string>& extra) {
  TempDir dir;
  std::string layout = dir.path() + "/layout";
  write_oci_layout(layout, images, top, media_type, {"t"});
  std::vector<std::string> argv = {"skopeo", "copy", "--all", "--insecure-policy"};
  // A format conversion rewrites manifests, so digests cannot be kept then.
  if (std::find(extra.begin(), extra.end(), "--format") == extra.end())
    argv.push_back("--preserve-digests");
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("oci:" + layout + ":t");
  argv.push_back(dest);
  std::string out;
  if (run_command(argv, out) != 0)
    throw std::runtime_error("skopeo copy to " + dest + " failed:\n" + out);
}

PushedImage push_image(const std::string& registry, const std::string& repo, const std::string& tag,
                       const TestImage& image) {
  auto api = client_for(registry);
  BuiltImage built = build_image(image);
  for (auto& b : built.blobs) put_blob(api, repo, b);
  PushedImage out = built.descriptor();
  put_manifest(api, repo, tag.empty() ? out.manifest_digest : tag, out.manifest, out.media_type);
  return out;
}

std::string push_index(const std::string& registry, const std::string& repo, const std::string& tag,
                       const std::vector<std::pair<PushedImage, TestImage>>& entries,
                       bool docker_list, const nlohmann::json& extra_entries) {
  auto api = client_for(registry);
  nlohmann::json manifests = nlohmann::json::array();
  for (auto& [pushed, image] : entries) {
    nlohmann::json platform = {{"os", image.os}, {"architecture", image.architecture}};
    if (!image.variant.empty()) platform["variant"] = image.variant;
    manifests.push_back({{"mediaType", pushed.media_type},
                         {"digest", pushed.manifest_digest},
                         {"size", pushed.size},
                         {"platform", platform}});
  }
  for (auto& e : extra_entries) manifests.push_back(e);
  std::string media_type = docker_list ? "application/vnd.docker.distribution.manifest.list.v2+json"
                                       : "application/vnd.oci.image.index.v1+json";
  nlohmann::json index = {
      {"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", manifests}};
  return put_manifest(api, repo, tag, index.dump(), media_type);
}

}  // namespace bw::test
