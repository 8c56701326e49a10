#include "config/config.h"

#include "score/score.h"

#include "process.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>

using namespace bw;

namespace {
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("defaults need no config") {
  auto c = load_config({}, env_of({}));
  REQUIRE(c);
  CHECK(c->config.listen == "127.0.0.1:8080");
  CHECK(c->config.data_dir == "./bulwark-data");
  CHECK(c->config.database_path() == "./bulwark-data/bulwark.db");
  CHECK(registry_allowed(c->config.registry.allowed, "127.0.0.1:5000"));
  CHECK(registry_allowed(c->config.registry.allowed, "docker.io"));
  CHECK_FALSE(registry_allowed(c->config.registry.allowed, "10.1.2.3:5000"));
}

TEST_CASE("flags override the environment, which overrides the file") {
  test::TempDir dir;
  std::string file = dir.path() + "/c.json";
  test::write_file(file, R"({"listen": "127.0.0.1:1", "data_dir": "/from-file", "log_level": "warn",
    "registries": {"allowed": ["reg.example:5000", "*.corp.example"],
                   "hosts": {"reg.example:5000": {"insecure": true, "username": "u", "password_env": "REG_PW"}}},
    "limits": {"max_uncompressed_bytes": 1000}})");
  auto c = load_config({"--config", file, "--listen", "127.0.0.1:3"},
                       env_of({{"BULWARK_LISTEN", "127.0.0.1:2"},
                               {"BULWARK_DATA_DIR", "/from-env"},
                               {"REG_PW", "s3cret"}}));
  REQUIRE(c);
  CHECK(c->config.listen == "127.0.0.1:3");
  CHECK(c->config.data_dir == "/from-env");
  CHECK(c->config.log_level == "warn");
  CHECK(c->config.scan.limits.max_uncompressed_bytes == 1000);
  auto& host = c->config.registry.hosts.at("reg.example:5000");
  CHECK(host.insecure);
  CHECK(host.password == "s3cret");
  CHECK(registry_allowed(c->config.registry.allowed, "reg.example:5000"));
  CHECK_FALSE(registry_allowed(c->config.registry.allowed, "reg.example:5001"));
  CHECK(registry_allowed(c->config.registry.allowed, "a.corp.example"));
  CHECK_FALSE(registry_allowed(c->config.registry.allowed, "corp.example"));
  CHECK_FALSE(registry_allowed(c->config.registry.allowed, "docker.io"));
}

TEST_CASE("bad configuration is refused with a reason") {
  CHECK_FALSE(load_config({"--nope"}, env_of({})));
  CHECK_FALSE(load_config({"--listen"}, env_of({})));
  CHECK_FALSE(load_config({"--log-level", "loud"}, env_of({})));
  CHECK_FALSE(load_config({"--config", "/nonexistent/bulwark.json"}, env_of({})));
  Config c;
  CHECK_FALSE(apply_config_json("{nope", env_of({}), c));
  CHECK_FALSE(apply_config_json(R"({"limits": {"max_entries": "many"}})", env_of({}), c));
  CHECK_FALSE(apply_config_json(R"({"registries": {"hosts": {"r": {"password_env": "UNSET"}}}})",
                                env_of({}), c));
  CHECK_FALSE(apply_config_json(R"({"scans": {"max_concurrent": 0}})", env_of({}), c));
}

TEST_CASE("API tokens: hashes or tokens from the environment, known scopes only") {
  Config c;
  REQUIRE(apply_config_json(
      R"({"api": {"tokens": [{"name": "ci", "token_env": "CI_TOKEN", "scopes": ["scan", "read"]}]}})",
      env_of({{"CI_TOKEN", "abc"}}), c));
  REQUIRE(c.api.tokens.size() == 1);
  CHECK(c.api.tokens[0].sha256 ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Config d;
  CHECK_FALSE(apply_config_json(
      R"({"api": {"tokens": [{"name": "x", "sha256": "short", "scopes": ["read"]}]}})", env_of({}),
      d));
  CHECK_FALSE(apply_config_json(
      R"({"api": {"tokens": [{"name": "x", "token_env": "UNSET", "scopes": ["read"]}]}})",
      env_of({}), d));
  CHECK_FALSE(apply_config_json(
      R"({"api": {"tokens": [{"name": "x", "token_env": "T", "scopes": ["root"]}]}})",
      env_of({{"T", "v"}}), d));
}

TEST_CASE("loopback registries only while listening on loopback, unless listed") {
  auto local = load_config({}, env_of({}));
  REQUIRE(local);
  CHECK(local->config.registry.allow_loopback);
  auto wide = load_config({"--listen", "0.0.0.0:8080"}, env_of({}));
  REQUIRE(wide);
  CHECK_FALSE(wide->config.registry.allow_loopback);
  CHECK_FALSE(registry_allowed(wide->config.registry.allowed, "127.0.0.1:5000"));
  CHECK_FALSE(registry_allowed(wide->config.registry.allowed, "localhost:5000"));
  CHECK(registry_allowed(wide->config.registry.allowed, "docker.io"));
  test::TempDir dir;
  test::write_file(dir.path() + "/c.json",
                   R"({"registries": {"allowed": ["127.0.0.1:5000", "ghcr.io"]}})");
  auto listed =
      load_config({"--listen", "0.0.0.0:8080", "--config", dir.path() + "/c.json"}, env_of({}));
  REQUIRE(listed);
  CHECK(listed->config.registry.allow_loopback);
  CHECK(registry_allowed(listed->config.registry.allowed, "127.0.0.1:5000"));
  CHECK_FALSE(listed->config.registry.allow_link_local);
}

TEST_CASE("--rules names the catalog file") {
  auto c = load_config({"--rules", "/tmp/my-rules.json"}, env_of({}));
  REQUIRE(c);
  CHECK(c->config.rules_file == "/tmp/my-rules.json");
}

namespace {
Result<ConfigLoad> load_file(const std::string& text, std::map<std::string, std::string> env = {},
                             std::vector<std::string> flags = {}) {
  static int n = 0;
  test::TempDir dir;
  std::string file = dir.path() + "/c" + std::to_string(++n) + ".json";
  test::write_file(file, text);
  flags.insert(flags.begin(), {"--config", file});
  return load_config(flags, env_of(std::move(env)));
}

std::string error_of(const Result<ConfigLoad>& r) {
  REQUIRE_FALSE(r);
  return r.error().message;
}
}  // namespace

TEST_CASE("unknown keys and wrong types are errors naming the key and the file") {
  auto typo = load_file(R"({"registries": {"alowed": ["reg.example"]}})");
  CHECK(error_of(typo).find("unknown key registries.alowed in ") != std::string::npos);
  CHECK(error_of(typo).find("(did you mean registries.allowed?)") != std::string::npos);
  CHECK(error_of(typo).find(".json") != std::string::npos);
  CHECK(error_of(load_file(R"({"colour": "blue"})")).find("unknown key colour in") !=
        std::string::npos);
  CHECK(error_of(load_file(R"({"registries": {"hosts": {"r.example": {"pasword": "x"}}}})"))
            .find("unknown key registries.hosts.r.example.pasword") != std::string::npos);
  CHECK(error_of(load_file(R"({"api": {"max_wait_s": "10"}})")).find("api.max_wait_s in ") !=
        std::string::npos);
  CHECK(error_of(load_file(R"({"api": {"max_wait_s": -1}})")).find("non-negative integer") !=
        std::string::npos);
  CHECK(error_of(load_file(R"({"webhooks": [{"url": "https://h.example", "evnts": []}]})"))
            .find("webhooks[0].evnts") != std::string::npos);
  CHECK(error_of(load_file(R"({"registries": {"allowed": "reg.example"}})"))
            .find("registries.allowed in ") != std::string::npos);
  CHECK(error_of(load_file("{not json")).find("is not valid JSON") != std::string::npos);
  // Comments are keys starting with "//".
  CHECK(load_file(R"({"//": "a note", "api": {"//max_wait_s": "why", "max_wait_s": 10}})"));
}

TEST_CASE("every key can come from the environment, between the file and the flags") {
  auto names = config_environment_names();
  CHECK(std::find(names.begin(), names.end(), "BULWARK_REGISTRIES_MAX_ATTEMPTS") != names.end());
  CHECK(std::find(names.begin(), names.end(), "BULWARK_API_TLS_CERT_FILE") != names.end());
  CHECK(std::find(names.begin(), names.end(), "BULWARK_REGISTRIES_HOSTS") != names.end());
  CHECK(names.size() >= 50);
  auto c = load_file(
      R"({"registries": {"max_attempts": 2}, "limits": {"max_entries": 5}})",
      {{"BULWARK_REGISTRIES_MAX_ATTEMPTS", "3"},
       {"BULWARK_SCANS_ALLOW_LOCAL_SOURCES", "true"},
       {"BULWARK_LIMITS_MAX_LAYER_CPU_S", "2.5"},
       {"BULWARK_API_CORS_ORIGINS", "https://a.example, https://b.example"},
       {"BULWARK_REGISTRIES_HOSTS", R"({"reg.example:5000": {"insecure": true}})"},
       {"BULWARK_API_TOKENS", R"([{"name": "ci", "token_env": "T", "scopes": ["read"]}])"},
       {"T", "secret"},
       {"BULWARK_LOG_FORMAT", "json"},
       {"BULWARK_LISTEN", "127.0.0.1:9"}},
      {"--listen", "127.0.0.1:10"});
  REQUIRE(c);
  CHECK(c->config.registry.max_attempts == 3);
  CHECK(c->config.scan.limits.max_entries == 5);  // the file's, nothing in the environment
  CHECK(c->config.scan.allow_local_sources);
  CHECK(c->config.scan.limits.max_cpu_seconds == 2.5);
  CHECK(c->config.api.cors_origins ==
        std::vector<std::string>{"https://a.example", "https://b.example"});
  CHECK(c->config.registry.hosts.at("reg.example:5000").insecure);
  REQUIRE(c->config.api.tokens.size() == 1);
  CHECK(c->config.log_format == "json");
  CHECK(c->config.listen == "127.0.0.1:10");  // the flag wins
  CHECK(error_of(load_config({}, env_of({{"BULWARK_REGISTRIES_MAX_ATTEMPTS", "many"}}))) ==
        "config: BULWARK_REGISTRIES_MAX_ATTEMPTS must be a non-negative integer");
  CHECK(error_of(load_config({}, env_of({{"BULWARK_API_TOKENS", R"([{"nam": "x"}])"}})))
            .find("api.tokens[0].nam in environment variable BULWARK_API_TOKENS") !=
        std::string::npos);
  CHECK(error_of(load_config({}, env_of({{"BULWARK_LOG_FORMAT", "xml"}}))) ==
        "config: log_format must be text or json");
}

TEST_CASE("--allow-registry adds patterns, repeatable, kept on a public listener") {
  auto c = load_config({"--allow-registry", "reg.corp:5000", "--allow-registry", "127.0.0.1:5000",
                        "--listen", "0.0.0.0:8080"},
                       env_of({}));
  REQUIRE(c);
  auto& allowed = c->config.registry.allowed;
  CHECK(registry_allowed(allowed, "reg.corp:5000"));
  CHECK(registry_allowed(allowed, "docker.io"));
  // The defaults' loopback names go on a public listener; the operator's flag stays.
  CHECK(std::find(allowed.begin(), allowed.end(), "localhost") == allowed.end());
  CHECK(registry_allowed(allowed, "127.0.0.1:5000"));
  CHECK(c->config.registry.allow_loopback);
  CHECK(error_of(load_config({"--allow-registry"}, env_of({}))).find("needs a value") !=
        std::string::npos);
}

TEST_CASE("deploy/bulwark.example.json holds every option, at its default") {
  std::string path = std::string(BULWARK_SOURCE_DIR) + "/deploy/bulwark.example.json";
  std::map<std::string, std::string> env = {
      {"CORP_REGISTRY_PASSWORD", "x"}, {"BULWARK_WEBHOOK_SECRET", "y"}, {"BULWARK_CI_TOKEN", "z"}};
  auto loaded = load_config({"--config", path}, env_of(env));
  REQUIRE(loaded);
  auto example = nlohmann::json::parse(test::read_file(path));
  auto effective = config_to_json(loaded->config, false);
  auto defaults = config_to_json(Config{}, false);
  // Walks the shape: every key is in the example; scalars (and the non-empty default lists)
  // are at their defaults; each list or map shows an entry that names every key it may hold.
  std::function<void(const nlohmann::json&, const nlohmann::json&, const nlohmann::json&,
                     const nlohmann::json&, std::string)>
      walk = [&](const nlohmann::json& shape, const nlohmann::json& ex, const nlohmann::json& eff,
                 const nlohmann::json& def, std::string path) {
        CAPTURE(path);
        if (shape.is_object() && shape.contains("*")) {
          REQUIRE(ex.is_object());
          REQUIRE_FALSE(ex.empty());
          for (auto& [k, v] : ex.items())
            if (shape["*"].is_object())
              for (auto& [key, sub] : shape["*"].items()) CHECK(v.contains(key));
          return;
        }
        if (shape.is_object()) {
          for (auto& [name, sub] : shape.items()) {
            const std::string key = name;
            CAPTURE(key);
            REQUIRE(ex.contains(key));
            walk(sub, ex[key], eff.is_object() && eff.contains(key) ? eff[key] : nlohmann::json(),
                 def.is_object() && def.contains(key) ? def[key] : nlohmann::json(),
                 path + "." + key);
          }
          return;
        }
        if (shape.is_array()) {
          REQUIRE(ex.is_array());
          CHECK_FALSE(ex.empty());
          if (shape[0].is_object())
            for (auto& [key, sub] : shape[0].items()) CHECK(ex[0].contains(key));
          else if (!def.empty())
            CHECK(eff == def);
          return;
        }
        if (!def.is_null()) CHECK(eff == def);
      };
  walk(config_shape(), example, effective, defaults, "");
}

TEST_CASE("the effective configuration masks secrets") {
  auto c = load_file(
      R"({"registries": {"hosts": {"reg.example": {"username": "u", "password": "hunter2"}}},
          "api": {"tokens": [{"name": "ci", "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "scopes": ["read"]}]}})");
  REQUIRE(c);
  std::string shown = config_to_json(c->config, true).dump();
  CHECK(shown.find("hunter2") == std::string::npos);
  CHECK(shown.find("0123456789abcdef0123456789abcdef") == std::string::npos);
  CHECK(shown.find("\"username\":\"u\"") != std::string::npos);
  CHECK(config_to_json(c->config, false).dump().find("hunter2") != std::string::npos);
}

TEST_CASE("configuration values that parse but make no sense are refused, naming them") {
  CHECK(
      error_of(load_file(R"({"webhooks":[{"url":"https://hooks.example/x","secret_env":"NOPE"}]})"))
          .find("NOPE is not set") != std::string::npos);
  CHECK(error_of(load_file(R"({"webhooks":[{"url":"ftp://hooks.example/x"}]})"))
            .find("webhook url must be http(s)") != std::string::npos);
  CHECK(error_of(load_file(R"({"schedules":[{"registry":"reg.example","interval_minutes":0}]})"))
            .find("interval_minutes must be at least 1") != std::string::npos);
  CHECK(error_of(load_file(R"({"api":{"cors_origins":["dashboard.example"]}})"))
            .find("is not an origin") != std::string::npos);
  CHECK(error_of(load_file(R"({"api":{"tls":{"client_ca_file":"/etc/ca.pem"}}})"))
            .find("client_ca_file needs cert_file and key_file") != std::string::npos);
  CHECK(error_of(load_config({"--workers", "many"}, env_of({}))).find("--workers takes a number") !=
        std::string::npos);
  CHECK(error_of(load_config({"--log-format", "xml"}, env_of({}))).find("text or json") !=
        std::string::npos);
  auto json_logs = load_config({"--log-format", "json", "--workers", "3"}, env_of({}));
  REQUIRE(json_logs);
  CHECK(json_logs->config.log_format == "json");
  CHECK(json_logs->config.workers == 3);
  CHECK(load_config({"--help"}, env_of({}))->show_help);
  CHECK(load_config({"--version"}, env_of({}))->show_version);
  CHECK(usage_text().find("--allow-registry") != std::string::npos);
}

TEST_CASE("candidate bases: measured from their images or mirrors, golden bases added") {
  test::TempDir dir;
  std::string file = dir.path() + "/c.json";
  auto load = [&](const std::string& text) {
    test::write_file(file, text);
    return load_config({"--config", file}, env_of({}));
  };
  // Off by default: nothing added to what is scanned, the built-in catalog in force.
  auto off = load(R"({})");
  REQUIRE(off);
  CHECK_FALSE(off->config.measure_bases);
  CHECK(off->config.base_references.empty());
  CHECK(off->config.scan.reference_images.empty());
  CHECK(off->config.base_catalog.size() == base_catalog().size());

  auto on = load(R"({"reference_images": ["docker.io/library/debian:12"],
    "bases": {"measure": true,
              "mirrors": [{"id": "busybox", "image": "mirror.corp.example/busybox:1"},
                          {"id": "corp-java", "image": "mirror.corp.example/golden/java:17"}],
              "extra": [{"id": "corp-java", "image": "registry.corp.example/golden/java:17",
                         "runtime": "java", "entrypoint": ["/usr/bin/java", "-jar"]}]}})");
  REQUIRE(on);
  const Config& c = on->config;
  CHECK(c.measure_bases);
  std::map<std::string, std::string> refs(c.base_references.begin(), c.base_references.end());
  CHECK_FALSE(refs.count("scratch"));  // nothing to measure
  CHECK(refs.at("busybox") == "mirror.corp.example/busybox:1");
  CHECK(refs.at("alpine") == "docker.io/library/alpine:3.22");
  CHECK(refs.at("corp-java") == "mirror.corp.example/golden/java:17");
  // Each is scanned as a reference image, once, after those configured.
  CHECK(c.scan.reference_images.front() == "docker.io/library/debian:12");
  CHECK(c.scan.reference_images.size() == 1 + refs.size());
  const nlohmann::json& golden = c.base_catalog.back();
  CHECK(golden["id"] == "corp-java");
  CHECK(golden["golden"] == true);
  CHECK(golden["runtime"] == "java");
  CHECK(golden["libc"] == "glibc");  // defaults for what the entry leaves out
  CHECK(golden["shell"] == false);

  auto error_of = [&](const std::string& text) {
    auto r = load(text);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(error_of(R"({"bases": {"mirrors": [{"id": "nope", "image": "a.example/b:1"}]}})")
            .find("no catalog base nope") != std::string::npos);
  CHECK(error_of(R"({"bases": {"extra": [{"id": "alpine", "image": "a.example/b:1"}]}})")
            .find("used twice: alpine") != std::string::npos);
  CHECK(error_of(R"({"bases": {"extra": [{"id": "x"}]}})").find("an id and an image") !=
        std::string::npos);
  CHECK(error_of(R"({"bases": {"extra": [{"id": "x", "image": "Bad Ref"}]}})").find("base x") !=
        std::string::npos);
}
