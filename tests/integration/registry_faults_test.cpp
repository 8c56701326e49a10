// The registry client against a misbehaving in-process server: each fault a real registry will
// not produce on demand ends in the documented behaviour and error code.
#include "registry/registry.h"

#include "daemon.h"
#include "fault_server.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <tuple>

using namespace bw;
using namespace bw::test;
namespace asio = boost::asio;

namespace {

RegistryOptions fast_options() {
  RegistryOptions o;
  o.allowed = {"127.0.0.1", "127.0.0.2", "registry.test"};
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.io_timeout = std::chrono::milliseconds(400);
  o.backoff_base = std::chrono::milliseconds(5);
  o.backoff_max = std::chrono::milliseconds(20);
  o.max_attempts = 3;
  o.env = [](const char*) -> const char* { return nullptr; };  // no docker config of the host
  return o;
}

struct Client {
  asio::io_context ioc;
  RegistryClient rc;
  explicit Client(RegistryOptions o = fast_options()) : rc(ioc.get_executor(), std::move(o)) {}

  template <class T>
  T run(asio::awaitable<T> a) {
    auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
    ioc.restart();
    ioc.run();
    return f.get();
  }

  // Fetches `data`'s blob from `host` into `out`.
  Result<void> blob(const std::string& host, const std::string& data, std::string& out) {
    ResolvedImage image;
    image.ref = ImageRef{host, "team/app", "1", ""};
    image.endpoint = host;
    Descriptor d{"application/vnd.oci.image.layer.v1.tar+gzip",
                 sha256(data),
                 static_cast<std::int64_t>(data.size()),
                 {},
                 {},
                 {}};
    return run(rc.fetch_blob(image, d, [&out](std::string chunk) -> asio::awaitable<bool> {
      out += chunk;
      co_return true;
    }));
  }
};

const std::string kData = [] {
  std::string s(200'000, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 7));
  return s;
}();

bool is_blob(const SeenRequest& r) {
  return r.target.find("/blobs/") != std::string::npos;
}

std::size_t blob_requests(const FaultServer& s) {
  auto rs = s.requests();
  return static_cast<std::size_t>(std::count_if(rs.begin(), rs.end(), is_blob));
}

}  // namespace

TEST_CASE("a blob whose bytes do not match its digest is refused") {
  FaultServer s([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    std::string wrong = kData;
    wrong[1000] ^= 1;
    return Reply{200, {}, wrong};
  });
  Client c;
  std::string out;
  auto r = c.blob(s.host(), kData, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::digest_mismatch);
}

TEST_CASE("a body cut short every time fails after bounded retries, each resuming with Range") {
  FaultServer s([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    Reply cut{200, {}, kData};
    cut.send_bytes = 50'000;
    return cut;
  });
  Client c;
  std::string out;
  auto r = c.blob(s.host(), kData, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::registry_unreachable);
  CHECK(r.error().message.find("closed mid-body") != std::string::npos);
  CHECK(blob_requests(s) == 3);
  CHECK(s.requests().back().header("range") == "bytes=50000-");
}

TEST_CASE("a dropped transfer resumes with Range where the server supports it") {
  FaultServer s([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    std::string range = r.header("range");
    if (range.empty()) {
      Reply cut{200, {{"Accept-Ranges", "bytes"}}, kData};
      cut.send_bytes = 70'000;
      return cut;
    }
    std::size_t from = std::stoul(range.substr(6));
    return Reply{206,
                 {{"Content-Range", "bytes " + std::to_string(from) + "-" +
                                        std::to_string(kData.size() - 1) + "/" +
                                        std::to_string(kData.size())}},
                 kData.substr(from)};
  });
  Client c;
  std::string out;
  auto r = c.blob(s.host(), kData, out);
  REQUIRE(r);
  CHECK(out == kData);
  CHECK(s.requests().back().header("range") == "bytes=70000-");
  CHECK(c.rc.stats().retries == 1);
}

TEST_CASE("a server that ignores Range is restarted and the repeated prefix skipped") {
  int calls = 0;
  FaultServer s([&calls](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    Reply reply{200, {}, kData};
    if (calls++ == 0) reply.send_bytes = 30'000;
    return reply;
  });
  Client c;
  std::string out;
  REQUIRE(c.blob(s.host(), kData, out));
  CHECK(out == kData);
}

TEST_CASE("a redirect to another host never carries the registry's credentials") {
  FaultServer storage([](const SeenRequest&) { return Reply{200, {}, kData}; }, "127.0.0.2");
  FaultServer reg([&storage](const SeenRequest& r) {
    if (r.header("authorization").empty())
      return Reply{401, {{"WWW-Authenticate", R"(Basic realm="test")"}}, "{}"};
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    return Reply{307, {{"Location", "http://" + storage.host() + "/bucket/blob?sig=abc"}}, ""};
  });
  auto opt = fast_options();
  opt.hosts[reg.host()] = RegistryHostConfig{false, "", "user", "pass", {}};
  opt.redirect_hosts = {"127.0.0.2"};  // the blob store a registry may redirect to
  Client c(opt);
  std::string out;
  auto r = c.blob(reg.host(), kData, out);
  REQUIRE(r);
  CHECK(out == kData);
  auto seen = reg.requests();
  CHECK(seen.back().header("authorization") == "Basic dXNlcjpwYXNz");
  REQUIRE(storage.requests().size() == 1);
  CHECK(storage.requests()[0].header("authorization").empty());
  CHECK(storage.requests()[0].target == "/bucket/blob?sig=abc");
}

TEST_CASE("429 honours Retry-After; one beyond the limit fails at once as rate_limited") {
  int calls = 0;
  FaultServer s([&calls](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    if (calls++ == 0)
      return Reply{429,
                   {{"Retry-After", "1"}},
                   R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})"};
    return Reply{200, {}, kData};
  });
  Client c;
  std::string out;
  REQUIRE(c.blob(s.host(), kData, out));
  CHECK(c.rc.stats().retries == 1);

  FaultServer never([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    return Reply{429,
                 {{"Retry-After", "3600"}},
                 R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})"};
  });
  std::string out2;
  auto r = c.blob(never.host(), kData, out2);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::rate_limited);
  CHECK(r.error().message.find("TOOMANYREQUESTS") != std::string::npos);
  CHECK(blob_requests(never) == 1);
}

TEST_CASE("503 then success is retried with backoff; a lasting 500 fails as registry_error") {
  int calls = 0;
  FaultServer s([&calls](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    if (calls++ < 2) return Reply{503, {}, "busy"};
    return Reply{200, {}, kData};
  });
  Client c;
  std::string out;
  REQUIRE(c.blob(s.host(), kData, out));
  CHECK(c.rc.stats().retries == 2);
  FaultServer broken([](const SeenRequest& r) {
    return is_blob(r) ? Reply{500, {}, "oops"} : Reply{200, {}, "{}"};
  });
  auto r = c.blob(broken.host(), kData, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::registry_error);
  CHECK(blob_requests(broken) == 3);
}

TEST_CASE("a slow drip past the read timeout fails as timeout; so does one past the total") {
  FaultServer drip([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    Reply slow{200, {}, kData.substr(0, 100)};
    slow.drip = std::chrono::milliseconds(1000);
    return slow;
  });
  auto opt = fast_options();
  opt.max_attempts = 2;
  Client c(opt);
  std::string out;
  auto r = c.blob(drip.host(), kData.substr(0, 100), out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::timeout);

  FaultServer trickle([](const SeenRequest& r) {
    if (!is_blob(r)) return Reply{200, {}, "{}"};
    Reply slow{200, {}, kData.substr(0, 100)};
    slow.drip = std::chrono::milliseconds(30);  // each byte within the read timeout
    return slow;
  });
  auto opt2 = fast_options();
  opt2.blob_timeout = std::chrono::milliseconds(500);
  Client c2(opt2);
  std::string out2;
  auto r2 = c2.blob(trickle.host(), kData.substr(0, 100), out2);
  REQUIRE_FALSE(r2);
  CHECK(r2.error().code == Errc::timeout);
  CHECK(r2.error().message.find("took longer") != std::string::npos);
}

TEST_CASE(
    "manifest faults: oversized, digest header lies, schema 1, redirect loops, auth refusals") {
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
      std::string(64, 'a') + R"(","size":2},"layers":[]})";
  FaultServer s([&](const SeenRequest& r) {
    const std::string& t = r.target;
    if (t == "/v2/") return Reply{200, {}, "{}"};
    if (t.ends_with("/manifests/huge")) {
      Reply big{200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, "{}"};
      big.content_length = 5 << 20;
      big.send_bytes = 0;
      return big;
    }
    if (t.ends_with("/manifests/lying"))
      return Reply{200,
                   {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"},
                    {"Docker-Content-Digest", "sha256:" + std::string(64, 'b')}},
                   manifest};
    if (t.ends_with("/manifests/legacy"))
      return Reply{200,
                   {{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}},
                   R"({"schemaVersion":1,"name":"x","tag":"legacy","fsLayers":[]})"};
    if (t.ends_with("/manifests/loop")) return Reply{302, {{"Location", t}}, ""};
    if (t.ends_with("/manifests/denied"))
      return Reply{
          403,
          {},
          R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"};
    if (t.ends_with("/manifests/needauth"))
      return Reply{401, {{"WWW-Authenticate", R"(Basic realm="x")"}}, "{}"};
    return Reply{
        404, {}, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"};
  });
  Client c;
  auto resolve = [&](const std::string& tag) {
    return c.run(c.rc.resolve(ImageRef{s.host(), "team/app", tag, ""}, default_platform()));
  };
  auto huge = resolve("huge");
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == Errc::unsupported_media_type);
  CHECK(huge.error().message.find("exceeds") != std::string::npos);
  CHECK(resolve("lying").error().code == Errc::digest_mismatch);
  auto legacy = resolve("legacy");
  CHECK(legacy.error().code == Errc::unsupported_media_type);
  CHECK(legacy.error().message.find("legacy") != std::string::npos);
  auto loop = resolve("loop");
  CHECK(loop.error().code == Errc::registry_error);
  CHECK(loop.error().message.find("redirects") != std::string::npos);
  auto denied = resolve("denied");
  CHECK(denied.error().code == Errc::forbidden);
  CHECK(denied.error().message.find("not authorized for " + s.host() + "/team/app") !=
        std::string::npos);
  auto auth = resolve("needauth");
  CHECK(auth.error().code == Errc::registry_auth_failed);
  CHECK(auth.error().message.find("none are configured") != std::string::npos);
  auto missing = resolve("missing");
  CHECK(missing.error().code == Errc::manifest_unknown);
  CHECK(missing.error().message.find("MANIFEST_UNKNOWN") != std::string::npos);
}

TEST_CASE(
    "names resolve through the injected resolver; registries outside the allowlist are never "
    "contacted") {
  FaultServer s([](const SeenRequest& r) {
    if (r.target == "/v2/") return Reply{200, {}, "{}"};
    return Reply{
        404, {}, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"};
  });
  auto opt = fast_options();
  opt.hosts["registry.test:" + std::to_string(s.port())].insecure =
      true;  // plain HTTP off loopback
  std::vector<std::string> asked;
  unsigned short port = s.port();
  opt.resolver = [&asked, port](
                     std::string host,
                     std::string) -> asio::awaitable<Result<std::vector<asio::ip::tcp::endpoint>>> {
    asked.push_back(host);
    co_return std::vector<asio::ip::tcp::endpoint>{{asio::ip::make_address("127.0.0.1"), port}};
  };
  Client c(opt);
  auto via_name = c.run(c.rc.resolve(
      ImageRef{"registry.test:" + std::to_string(port), "a", "1", ""}, default_platform()));
  REQUIRE_FALSE(via_name);
  CHECK(via_name.error().code == Errc::manifest_unknown);  // it reached the loopback server
  CHECK(std::find(asked.begin(), asked.end(), "registry.test") != asked.end());
  asked.clear();
  auto other =
      c.run(c.rc.resolve(ImageRef{"internal.corp:5000", "a", "1", ""}, default_platform()));
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Errc::registry_not_allowed);
  CHECK(asked.empty());
}

TEST_CASE(
    "names that resolve to metadata, link-local or refused loopback addresses are never "
    "connected to") {
  std::atomic<int> hits{0};
  FaultServer s([&hits](const SeenRequest&) {
    ++hits;
    return Reply{200, {}, "{}"};
  });
  unsigned short port = s.port();
  auto resolver_to = [port](std::string address) {
    return [address, port](
               std::string,
               std::string) -> asio::awaitable<Result<std::vector<asio::ip::tcp::endpoint>>> {
      co_return std::vector<asio::ip::tcp::endpoint>{{asio::ip::make_address(address), port}};
    };
  };
  ImageRef ref{"registry.test:" + std::to_string(port), "a", "1", ""};
  for (const char* address : {"169.254.169.254", "fe80::1", "100.100.100.200", "0.0.0.0"}) {
    CAPTURE(address);
    auto opt = fast_options();
    opt.hosts[ref.registry].insecure = true;
    opt.resolver = resolver_to(address);
    Client c(opt);
    auto r = c.run(c.rc.resolve(ref, default_platform()));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::registry_not_allowed);
  }
  // A daemon on a real interface refuses loopback (a name resolving to 127.0.0.1 included).
  auto opt = fast_options();
  opt.hosts[ref.registry].insecure = true;
  opt.allow_loopback = false;
  opt.resolver = resolver_to("127.0.0.1");
  Client c(opt);
  auto r = c.run(c.rc.resolve(ref, default_platform()));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::registry_not_allowed);
  CHECK(hits == 0);
  CHECK(address_permitted(asio::ip::make_address("169.254.169.254"), true, true));
  CHECK(address_permitted(asio::ip::make_address("::ffff:127.0.0.1"), true, false));
  CHECK_FALSE(address_permitted(asio::ip::make_address("::ffff:169.254.1.1"), true, false));
  CHECK(address_permitted(asio::ip::make_address("93.184.216.34"), false, false));
}

TEST_CASE("token service failures end the scan as registry_auth_failed, naming what went wrong") {
  // A registry that wants a bearer token, from a token service that misbehaves in turn: down,
  // 500, not JSON, JSON without a token, a token with spaces in it, and refusal.
  std::atomic<int> mode{0};
  FaultServer tokens([&](const SeenRequest&) -> Reply {
    switch (mode.load()) {
      case 0:
        return Reply{500, {}, "oops"};
      case 1:
        return Reply{200, {{"Content-Type", "application/json"}}, "<html>login</html>"};
      case 2:
        return Reply{200, {{"Content-Type", "application/json"}}, R"({"expires_in":300})"};
      case 3:
        return Reply{200, {{"Content-Type", "application/json"}}, R"({"token":"a b"})"};
      default:
        return Reply{401, {}, R"({"errors":[]})"};
    }
  });
  FaultServer reg([&](const SeenRequest&) {
    return Reply{401,
                 {{"WWW-Authenticate",
                   "Bearer realm=\"http://" + tokens.host() + "/token\",service=\"faulty\""},
                  {"Content-Type", "application/json"}},
                 R"({"errors":[{"code":"UNAUTHORIZED"}]})"};
  });
  Daemon d;
  const std::vector<std::string> expected = {"answered HTTP 500", "sent no token", "sent no token",
                                             "sent an unusable token",
                                             "refused the anonymous request (HTTP 401)"};
  for (int i = 0; i < static_cast<int>(expected.size()); ++i) {
    mode = i;
    nlohmann::json s = d.scan(reg.host() + "/locked/app:" + std::to_string(i));
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == "registry_auth_failed");
    CHECK_MESSAGE(s["error"]["message"].get<std::string>().find(expected[i]) != std::string::npos,
                  s["error"]["message"]);
  }
  CHECK(d.metric_sum("bulwark_registry_errors_total", "kind=\"token\"") >= 2);
  CHECK(d.get_json("/healthz")["status"] == "ok");
}

TEST_CASE(
    "registry documents that lie or overreach fail the scan with the right code, via bulwarkd") {
  TestImage img{{make_layer(TarBuilder().file("app/x", std::string(3000, 'x')).build())}};
  BuiltImage built = build_image(img);
  const std::string layer = img.layers[0].blob;
  auto with_manifest = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json m = nlohmann::json::parse(built.manifest);
    edit(m);
    return m.dump();
  };
  const std::string big_config =
      with_manifest([](nlohmann::json& m) { m["config"]["size"] = 64 << 20; });
  const std::string sha512_layer = with_manifest(
      [](nlohmann::json& m) { m["layers"][0]["digest"] = "sha512:" + std::string(128, 'a'); });
  // An index naming itself through one more index each time, deeper than allowed.
  std::vector<std::string> chain = {built.manifest};
  for (int i = 0; i < 6; ++i)
    chain.push_back(nlohmann::json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.index.v1+json"},
        {"manifests",
         {{{"mediaType", i == 0 ? built.media_type : "application/vnd.oci.image.index.v1+json"},
           {"digest", sha256(chain.back())},
           {"size", chain.back().size()},
           {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}}
                        .dump());
  FaultServer reg([&](const SeenRequest& req) -> Reply {
    const std::string& t = req.target;
    auto repo = [&](const char* name) { return t.starts_with(std::string("/v2/") + name + "/"); };
    if (t == "/v2/") return Reply{200, {}, "{}"};
    const bool manifest = t.find("/manifests/") != std::string::npos;
    const std::string oci = "application/vnd.oci.image.manifest.v1+json";
    if (repo("realm"))
      return Reply{401, {{"WWW-Authenticate", "Bearer realm=\"::not a url\",service=\"x\""}}, "{}"};
    if (repo("digestauth"))
      return Reply{401, {{"WWW-Authenticate", "Digest realm=\"x\", nonce=\"y\""}}, "{}"};
    if (repo("headers"))
      return Reply{200, {{"X-Padding", std::string(100 * 1024, 'p')}}, built.manifest};
    if (manifest && repo("bigconfig")) return Reply{200, {{"Content-Type", oci}}, big_config};
    if (manifest && repo("sha512")) return Reply{200, {{"Content-Type", oci}}, sha512_layer};
    if (manifest && repo("deep")) {
      for (auto& doc : chain)
        if (t.ends_with(sha256(doc)))
          return Reply{
              200,
              {{"Content-Type", doc == built.manifest ? built.media_type
                                                      : "application/vnd.oci.image.index.v1+json"}},
              doc};
      return Reply{
          200, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}, chain.back()};
    }
    if (manifest && repo("bydigest"))  // whatever digest is asked for, another document
      return Reply{200, {{"Content-Type", oci}}, big_config};
    if (manifest) return Reply{200, {{"Content-Type", built.media_type}}, built.manifest};
    if (t.ends_with(sha256(layer))) {
      if (repo("longer")) return Reply{200, {}, layer + "extra bytes"};
      if (repo("shorter")) return Reply{200, {}, layer.substr(0, layer.size() - 100)};
      return Reply{200, {}, layer};
    }
    if (t.ends_with(sha256(built.blobs[0]))) return Reply{200, {}, built.blobs[0]};
    return Reply{404, {}, "{}"};
  });
  Daemon d(nlohmann::json{
      {"registries",
       {{"max_attempts", 1}, {"max_config_bytes", 1 << 20}, {"backoff_base_ms", 5}}}});
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"longer/app:1", "digest_mismatch", "bytes its descriptor declares"},
      {"shorter/app:1", "digest_mismatch", "delivered"},
      {"bigconfig/app:1", "unsupported_media_type", "exceeds the limit"},
      {"sha512/app:1", "unsupported_media_type", "only sha256"},
      {"deep/app:1", "unsupported_media_type", "nesting deeper than"},
      {"bydigest/app@" + sha256(built.manifest), "digest_mismatch", "has digest"},
      {"realm/app:1", "registry_auth_failed", "invalid token realm"},
      {"digestauth/app:1", "registry_auth_failed", "unsupported authentication scheme"},
      {"headers/app:1", "registry_error", "exceed"},
  };
  for (auto& c : cases) {
    const std::string& image = std::get<0>(c);
    nlohmann::json s = d.scan(reg.host() + "/" + image);
    INFO(image << ": " << s.dump());
    CHECK(s["status"] == "failed");
    CHECK(s["error"]["code"] == std::get<1>(c));
    CHECK(s["error"]["message"].get<std::string>().find(std::get<2>(c)) != std::string::npos);
  }
  CHECK(d.get_json("/healthz")["status"] == "ok");
}
