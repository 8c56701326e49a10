#include "config/config.h"

#include "process.h"

#include <doctest/doctest.h>

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
