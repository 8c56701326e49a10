// The registry client through the daemon against Debian's docker-registry guarded the ways real
// registries are: TLS with a private CA and htpasswd basic auth, and bearer tokens from a token
// service like Docker Hub's. Images go in with skopeo, from OCI layouts the tests write.
#include "registry/registry.h"

#include "daemon.h"
#include "pki.h"
#include "process.h"
#include "registry.h"
#include "tar_builder.h"
#include "test_proxy.h"
#include "token_service.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

std::string htpasswd_file(const TempDir& dir, const std::string& user, const std::string& pass) {
  std::string out;
  if (run_command({"htpasswd", "-Bbn", user, pass}, out) != 0)
    throw std::runtime_error("htpasswd failed: " + out);
  std::string path = dir.path() + "/htpasswd";
  write_file(path, out.substr(0, out.find('\n') + 1));
  return path;
}

TestImage image_with(const std::string& file, const std::string& arch = "amd64",
                     bool docker = false) {
  TestImage im{{make_layer(TarBuilder().file(file, "x").build(), LayerCompression::gzip, docker)}};
  im.architecture = arch;
  im.docker_media_types = docker;
  if (arch == "arm64") im.variant = "v8";
  return im;
}

// Pushes an OCI image as repo:single, a two-platform OCI index as repo:oci, and the same
// converted to a Docker manifest list as repo:docker.
struct Pushed {
  std::string single, amd, arm;  // digests as pushed (OCI)
};
Pushed push_pair(const std::string& host, const std::string& repo, std::vector<std::string> creds) {
  BuiltImage single = build_image(image_with("single"));
  skopeo_push({single}, single.manifest, single.media_type,
              "docker://" + host + "/" + repo + ":single", creds);
  TestImage a = image_with("amd", "amd64"), r = image_with("arm", "arm64");
  BuiltImage ba = build_image(a), br = build_image(r);
  std::string index = index_document({{ba, a}, {br, r}}, false);
  skopeo_push({ba, br}, index, "application/vnd.oci.image.index.v1+json",
              "docker://" + host + "/" + repo + ":oci", creds);
  creds.insert(creds.end(), {"--format", "v2s2"});
  skopeo_push({ba, br}, index, "application/vnd.oci.image.index.v1+json",
              "docker://" + host + "/" + repo + ":docker", creds);
  return {single.descriptor().manifest_digest, ba.descriptor().manifest_digest,
          br.descriptor().manifest_digest};
}

// Scans ref for platform and checks that an index was followed to that platform's manifest
// in the expected media type family.
void check_multi(Daemon& d, const std::string& ref, const std::string& platform,
                 const std::string& want_platform, const std::string& media_type) {
  json s = d.scan(ref, platform);
  REQUIRE(s["status"] == "done");
  CHECK(s.contains("index_digest"));
  json image = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>());
  CHECK(image["platform"] == want_platform);
  CHECK(image["media_type"] == media_type);
}

const std::string kOci = "application/vnd.oci.image.manifest.v1+json";
const std::string kDocker = "application/vnd.docker.distribution.manifest.v2+json";

json host_config(const std::string& host, json settings) {
  return json{{"registries", {{"hosts", {{host, settings}}}}}};
}

}  // namespace

TEST_CASE("TLS with a private CA and htpasswd basic auth") {
  Pki pki;
  TempDir dir;
  LocalRegistry reg(
      RegistrySetup{pki.cert, pki.key, htpasswd_file(dir, "alice", "wonderland"), "", "", "", ""});
  auto pushed = push_pair(reg.host(), "team/app",
                          {"--dest-cert-dir", pki.certs_dir, "--dest-creds", "alice:wonderland"});

  {
    Daemon d(host_config(reg.host(),
                         {{"ca_file", pki.ca}, {"username", "alice"}, {"password", "wonderland"}}));
    json s = d.scan(reg.host() + "/team/app:single");
    REQUIRE(s["status"] == "done");
    CHECK(s["manifest_digest"] == pushed.single);
    CHECK(d.scan(reg.host() + "/team/app:oci", "linux/arm64")["manifest_digest"] == pushed.arm);
    CHECK(d.scan(reg.host() + "/team/app:oci")["manifest_digest"] == pushed.amd);
    check_multi(d, reg.host() + "/team/app:docker", "linux/arm64", "linux/arm64/v8", kDocker);
    check_multi(d, reg.host() + "/team/app:docker", "", "linux/amd64", kDocker);
    CHECK(d.log().find("wonderland") == std::string::npos);  // never logged
  }
  {
    Daemon d(host_config(reg.host(), {{"ca_file", pki.ca}}));
    json s = d.scan(reg.host() + "/team/app:single");
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "registry_auth_failed");
  }
  {
    Daemon d(host_config(reg.host(), {{"username", "alice"}, {"password", "wonderland"}}));
    json s = d.scan(reg.host() + "/team/app:single");
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "registry_unreachable");
    CHECK(s["error"]["message"].get<std::string>().find("TLS handshake") != std::string::npos);
  }
  {
    // The system trust store, as curl reads it: SSL_CERT_FILE.
    Daemon d(host_config(reg.host(), {{"username", "alice"}, {"password_env", "REG_PASSWORD"}}), "",
             {"SSL_CERT_FILE=" + pki.ca, "REG_PASSWORD=wonderland"});
    json s = d.scan(reg.host() + "/team/app:single");
    INFO(s.dump());
    CHECK(s["status"] == "done");
  }
  {
    // docker login's file, found through DOCKER_CONFIG.
    TempDir docker;
    write_file(docker.path() + "/config.json",
               json{{"auths", {{reg.host(), {{"auth", "YWxpY2U6d29uZGVybGFuZA=="}}}}}}.dump());
    Daemon d(host_config(reg.host(), {{"ca_file", pki.ca}}), "",
             {"DOCKER_CONFIG=" + docker.path()});
    CHECK(d.scan(reg.host() + "/team/app:single")["status"] == "done");
  }
}

TEST_CASE("bearer tokens like Docker Hub: public pulls anonymously, private needs credentials") {
  TokenService tokens({{"alice", "wonderland"}});
  LocalRegistry reg(RegistrySetup{"", "", "", tokens.realm(), tokens.service(), tokens.issuer(),
                                  tokens.cert_path()});
  std::vector<std::string> creds = {"--dest-tls-verify=false", "--dest-creds", "alice:wonderland"};
  // The token service runs on another port than the registry: credentials go there only
  // because the registry's configuration names it.
  std::string realm_host = tokens.realm().substr(7, tokens.realm().find('/', 7) - 7);
  json realms = {{"token_realms", {realm_host}}};
  auto pub = push_pair(reg.host(), "public/app", creds);
  auto priv = push_pair(reg.host(), "private/app", creds);

  {
    Daemon d;
    json s = d.scan(reg.host() + "/public/app:oci", "linux/arm64");
    REQUIRE(s["status"] == "done");
    CHECK(s["manifest_digest"] == pub.arm);
    check_multi(d, reg.host() + "/public/app:docker", "linux/arm64/v8", "linux/arm64/v8", kDocker);
    check_multi(d, reg.host() + "/public/app:oci", "", "linux/amd64", kOci);
    json denied = d.scan(reg.host() + "/private/app:single");
    CHECK(denied["status"] == "failed");
    CHECK(denied["error"]["code"] == "forbidden");
    CHECK(denied["error"]["message"].get<std::string>().find("not authorized for " + reg.host() +
                                                             "/private/app") != std::string::npos);
  }
  {
    std::size_t before = tokens.requests().size();
    {
      // Not listed, and no need to: the realm is on the registry's own host (another port, as
      // GitLab's registry :5050 and its /jwt/auth on :443), so the registry's credentials go
      // there as docker, containerd and skopeo send them. The daemon and the in-process CLI.
      Daemon unlisted(host_config(reg.host(), {{"username", "alice"}, {"password", "wonderland"}}));
      json s = unlisted.scan(reg.host() + "/private/app:single");
      INFO(s.dump());
      CHECK(s["status"] == "done");
      auto asked = tokens.requests();
      CHECK(std::any_of(asked.begin() + static_cast<std::ptrdiff_t>(before), asked.end(),
                        [](auto& r) { return !r.header("authorization").empty(); }));
      TempDir docker;
      write_file(docker.path() + "/config.json",
                 json{{"auths", {{reg.host(), {{"auth", "YWxpY2U6d29uZGVybGFuZA=="}}}}}}.dump());
      std::string out;
      int rc =
          run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "DOCKER_CONFIG=" + docker.path(),
                       "XDG_CACHE_HOME=" + docker.path() + "/cache", BULWARK_CLI_PATH, "scan",
                       reg.host() + "/private/app:single"},
                      out);
      INFO(out);
      CHECK(rc == 0);
      CHECK(out.find("status    done") != std::string::npos);
      before = tokens.requests().size();
    }
    Daemon d(host_config(
        reg.host(),
        {{"username", "alice"}, {"password", "wonderland"}, {"token_realms", {realm_host}}}));
    json s = d.scan(reg.host() + "/private/app:single");
    REQUIRE(s["status"] == "done");
    CHECK(s["manifest_digest"] == priv.single);
    CHECK(d.scan(reg.host() + "/private/app:oci")["manifest_digest"] == priv.amd);
    check_multi(d, reg.host() + "/private/app:docker", "linux/arm64", "linux/arm64/v8", kDocker);
    // One token per repository scope, reused for manifests, config and layers.
    auto asked = tokens.requests();
    asked.erase(asked.begin(), asked.begin() + static_cast<std::ptrdiff_t>(before));
    auto with_scope = std::count_if(asked.begin(), asked.end(), [](auto& r) {
      return r.target.find("repository%3Aprivate%2Fapp%3Apull") != std::string::npos &&
             !r.header("authorization").empty();
    });
    CHECK(with_scope == 1);
  }
  {
    // A docker credential helper, found on PATH.
    TempDir docker;
    std::string helper = docker.path() + "/bin/docker-credential-bwtest";
    write_file(
        helper,
        "#!/bin/sh\nread server\necho '{\"Username\":\"alice\",\"Secret\":\"wonderland\"}'\n");
    chmod(helper.c_str(), 0755);
    write_file(docker.path() + "/config.json",
               json{{"credHelpers", {{reg.host(), "bwtest"}}}}.dump());
    Daemon d(host_config(reg.host(), realms), "",
             {"DOCKER_CONFIG=" + docker.path(),
              "PATH=" + docker.path() + "/bin:" + std::string(std::getenv("PATH"))});
    json s = d.scan(reg.host() + "/private/app:single");
    INFO(s.dump());
    CHECK(s["status"] == "done");
  }
  {
    // docker login with a token: an identity token, exchanged with the refresh-token grant.
    TempDir docker;
    write_file(docker.path() + "/config.json",
               json{{"auths", {{reg.host(), {{"identitytoken", "alice-refresh"}}}}}}.dump());
    Daemon d(host_config(reg.host(), realms), "", {"DOCKER_CONFIG=" + docker.path()});
    json s = d.scan(reg.host() + "/private/app:single");
    INFO(s.dump());
    CHECK(s["status"] == "done");
    auto asked = tokens.requests();
    CHECK(std::any_of(asked.begin(), asked.end(), [](auto& r) {
      return r.method == "POST" && r.body.find("grant_type=refresh_token") != std::string::npos;
    }));
  }
  {
    Daemon d(host_config(
        reg.host(),
        {{"username", "alice"}, {"password", "wrong"}, {"token_realms", {realm_host}}}));
    json s = d.scan(reg.host() + "/private/app:single");
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "registry_auth_failed");
  }
}

TEST_CASE("catalog and tag listing follow Link pagination") {
  LocalRegistry reg;
  for (auto repo : {"a/one", "b/two", "c/three"})
    push_image(reg.host(), repo, "t1",
               TestImage{{make_layer(TarBuilder().file(repo, "x").build())}});
  for (auto tag : {"t2", "t3", "t4"})
    push_image(reg.host(), "a/one", tag,
               TestImage{{make_layer(TarBuilder().file(tag, "x").build())}});
  boost::asio::io_context ioc;
  bw::RegistryOptions opt;
  opt.env = [](const char*) -> const char* { return nullptr; };
  bw::RegistryClient rc(ioc.get_executor(), opt);
  auto run = [&](auto a) {
    auto f = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
    ioc.restart();
    ioc.run();
    return f.get();
  };
  auto repos = run(rc.list_repositories(reg.host(), 1));
  REQUIRE(repos);
  CHECK(*repos == std::vector<std::string>{"a/one", "b/two", "c/three"});
  auto tags = run(rc.list_tags(bw::ImageRef{reg.host(), "a/one", "", ""}, 2));
  REQUIRE(tags);
  // distribution 2.8 ignores n for tags and answers them unordered; the catalog pages.
  std::sort(tags->begin(), tags->end());
  CHECK(*tags == std::vector<std::string>{"t1", "t2", "t3", "t4"});
  CHECK(rc.stats().manifest_fetches == 0);
  CHECK(reg.log().find("/v2/_catalog?last=") !=
        std::string::npos);  // more than one page was asked for
}

TEST_CASE("HTTPS_PROXY tunnels with CONNECT, http_proxy forwards, NO_PROXY bypasses") {
  Pki pki;
  TempDir dir;
  LocalRegistry tls(
      RegistrySetup{pki.cert, pki.key, htpasswd_file(dir, "alice", "wonderland"), "", "", "", ""});
  push_pair(tls.host(), "team/app",
            {"--dest-cert-dir", pki.certs_dir, "--dest-creds", "alice:wonderland"});
  LocalRegistry plain;
  push_image(plain.host(), "team/plain", "1",
             TestImage{{make_layer(TarBuilder().file("p", "x").build())}});
  TestProxy proxy("pu:pp");
  std::string with_creds = "http://pu:pp@" + proxy.url().substr(7);
  json cfg = host_config(tls.host(),
                         {{"ca_file", pki.ca}, {"username", "alice"}, {"password", "wonderland"}});
  {
    Daemon d(cfg, "",
             {"HTTPS_PROXY=" + with_creds, "http_proxy=" + with_creds, "NO_PROXY=", "no_proxy="});
    CHECK(d.scan(tls.host() + "/team/app:single")["status"] == "done");
    CHECK(d.scan(plain.host() + "/team/plain:1")["status"] == "done");
    auto seen = proxy.seen();
    CHECK(std::count(seen.begin(), seen.end(), "CONNECT " + tls.host()) >= 1);
    CHECK(std::find(seen.begin(), seen.end(), "GET http://" + plain.host() + "/v2/") != seen.end());
  }
  std::size_t before = proxy.seen().size();
  {
    Daemon d(cfg, "",
             {"HTTPS_PROXY=" + with_creds, "http_proxy=" + with_creds, "NO_PROXY=127.0.0.1",
              "no_proxy="});
    CHECK(d.scan(tls.host() + "/team/app:single")["status"] == "done");
    CHECK(proxy.seen().size() == before);
  }
  {
    Daemon d(cfg, "",
             {"HTTPS_PROXY=" + proxy.url(), "NO_PROXY=", "no_proxy="});  // no proxy credentials
    json s = d.scan(tls.host() + "/team/app:single");
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["message"].get<std::string>().find("407") != std::string::npos);
  }
}

TEST_CASE("mirrors: a pull-through mirror serves first; a dead one falls back to the registry") {
  LocalRegistry origin, mirror;
  TestLayer layer = make_layer(TarBuilder().file("app/run", std::string(500, 'r'), 0755).build());
  TestImage img{{layer}};
  img.config = {{"User", "1000"}};
  push_image(origin.host(), "team/app", "1", img);
  push_image(mirror.host(), "team/app", "1", img);
  {
    // The mirror has it: manifest and blobs come from the mirror, nothing from the origin.
    Daemon d(json{{"registries", {{"mirrors", {{origin.host(), json::array({mirror.host()})}}}}}});
    json s = d.scan(origin.host() + "/team/app:1");
    REQUIRE(s["status"] == "done");
    CHECK(mirror.blob_gets(layer.digest()) == 1);
    CHECK(origin.blob_gets(layer.digest()) == 0);
    // Stored under the name the caller used, not the mirror's.
    CHECK(s["image"] == origin.host() + "/team/app:1");
  }
  {
    // A mirror that refuses connections, then the mirror without the tag: both are passed over
    // for the registry itself, and the log says why.
    RefusingPort dead;
    Daemon d(json{{"registries",
                   {{"mirrors", {{origin.host(), json::array({dead.host(), mirror.host()})}}}}}});
    push_image(origin.host(), "team/app", "2", img);
    json s = d.scan(origin.host() + "/team/app:2");
    REQUIRE(s["status"] == "done");
    std::string log = d.log();
    CHECK(log.find("mirror=" + dead.host() + " failed") != std::string::npos);
    CHECK(log.find("mirror=" + mirror.host() + " failed") != std::string::npos);
    // This daemon's store is its own: the layer came from the origin this time.
    CHECK(origin.blob_gets(layer.digest()) == 1);
  }
}

TEST_CASE(
    "GitLab's layout over TLS: the registry and its token realm on two ports of one host; the "
    "registry's credentials go to the realm with no setting, from the daemon and the CLI") {
  Pki pki;
  TokenService tokens({{"alice", "wonderland"}});
  // The realm over HTTPS, as GitLab's /jwt/auth: a TLS front for the token service.
  TempDir dir;
  unsigned short tls_port = free_port();
  std::string plain = tokens.realm().substr(7, tokens.realm().find('/', 7) - 7);
  Process front(
      {"/usr/bin/python3", std::string(BULWARK_SOURCE_DIR) + "/tests/support/tls_front.py",
       pki.cert, pki.key, std::to_string(tls_port), plain.substr(plain.find(':') + 1)},
      dir.path() + "/front.out", dir.path() + "/front.err");
  std::string out;
  for (int i = 0; i < 100; ++i) {
    if (run_command({"curl", "-s", "-o", "/dev/null", "--cacert", pki.ca,
                     "https://127.0.0.1:" + std::to_string(tls_port) + "/token"},
                    out) == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string realm = "https://127.0.0.1:" + std::to_string(tls_port) + "/token";
  LocalRegistry reg(RegistrySetup{pki.cert, pki.key, "", realm, tokens.service(), tokens.issuer(),
                                  tokens.cert_path()});
  auto pushed = push_pair(reg.host(), "private/app",
                          {"--dest-cert-dir", pki.certs_dir, "--dest-creds", "alice:wonderland"});
  {
    Daemon d(host_config(reg.host(),
                         {{"ca_file", pki.ca}, {"username", "alice"}, {"password", "wonderland"}}));
    json s = d.scan(reg.host() + "/private/app:single");
    INFO(s.dump());
    CHECK(s["status"] == "done");
    CHECK(s["manifest_digest"] == pushed.single);
    CHECK(d.log().find("wonderland") == std::string::npos);
  }
  TempDir docker;
  write_file(docker.path() + "/config.json",
             json{{"auths", {{reg.host(), {{"auth", "YWxpY2U6d29uZGVybGFuZA=="}}}}}}.dump());
  int rc = run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "DOCKER_CONFIG=" + docker.path(),
                        "SSL_CERT_FILE=" + pki.ca, "XDG_CACHE_HOME=" + docker.path() + "/cache",
                        BULWARK_CLI_PATH, "scan", reg.host() + "/private/app:single"},
                       out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("status    done") != std::string::npos);
  front.stop(SIGTERM);
}

TEST_CASE(
    "a realm on another host over plain HTTP gets no credentials unless allowed: the error names "
    "it and the setting; --token-realm and BULWARK_TOKEN_REALMS allow it in the CLI") {
  TestImage img{{make_layer(TarBuilder().file("etc/motd", "private").build())}};
  BuiltImage built = build_image(img);
  // The token service on 127.0.0.2 grants "good" only to alice's credentials.
  FaultServer realm(
      [](const SeenRequest& req) {
        bool alice = req.header("authorization") == "Basic YWxpY2U6d29uZGVybGFuZA==";
        return Reply{200, {}, json{{"token", alice ? "good" : "anonymous"}}.dump()};
      },
      "127.0.0.2");
  FaultServer registry([&](const SeenRequest& req) {
    if (req.header("authorization") != "Bearer good")
      return Reply{
          401,
          {{"WWW-Authenticate", "Bearer realm=\"http://" + realm.host() +
                                    "/token\",service=\"reg\",scope=\"repository:a/b:pull\""}},
          "{}"};
    return serve_built_image(built, req);
  });
  TempDir docker;
  write_file(docker.path() + "/config.json",
             json{{"auths", {{registry.host(), {{"auth", "YWxpY2U6d29uZGVybGFuZA=="}}}}}}.dump());
  std::vector<std::string> cli = {"/usr/bin/env", "-u", "BULWARK_SERVER",
                                  "DOCKER_CONFIG=" + docker.path(),
                                  "XDG_CACHE_HOME=" + docker.path() + "/cache"};
  std::string out;
  auto args = cli;
  args.insert(args.end(), {BULWARK_CLI_PATH, "scan", registry.host() + "/a/b:1"});
  CHECK(run_command(args, out) == 3);
  INFO(out);
  CHECK(out.find("not sent to its token realm http://" + realm.host()) != std::string::npos);
  CHECK(out.find("--token-realm " + realm.host()) != std::string::npos);
  for (auto& r : realm.requests()) CHECK(r.header("authorization").empty());
  auto with_flag = args;
  with_flag.insert(with_flag.end(), {"--token-realm", realm.host()});
  CHECK(run_command(with_flag, out) == 0);
  auto with_env = cli;
  with_env.insert(with_env.end(), {"BULWARK_TOKEN_REALMS=" + realm.host(), BULWARK_CLI_PATH, "scan",
                                   registry.host() + "/a/b:1", "--format", "json"});
  CHECK(run_command(with_env, out) == 0);
}
