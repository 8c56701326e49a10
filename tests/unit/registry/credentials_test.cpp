#include "registry/credentials.h"

#include "process.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <map>

using namespace bw;

namespace {
struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const char* n) -> const char* {
      auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};
}  // namespace

TEST_CASE(
    "docker config.json auths: base64 auth, username/password, identity tokens, docker.io keys") {
  test::TempDir dir;
  test::write_file(dir.path() + "/config.json", R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOnMzY3JldA=="},
      "ghcr.io": {"username": "octo", "password": "pat"},
      "https://quay.io": {"identitytoken": "refresh-me"},
      "broken.example": {"auth": "bm9jb2xvbg=="}}})");
  Env env{{{"DOCKER_CONFIG", dir.path()}}};
  CredentialStore store({}, env.lookup());
  auto hub = store.lookup("docker.io");
  REQUIRE(hub);
  REQUIRE(*hub);
  CHECK((*hub)->username == "hub");
  CHECK((*hub)->password == "s3cret");
  CHECK((*store.lookup("ghcr.io"))->password == "pat");
  CHECK((*store.lookup("quay.io"))->identity_token == "refresh-me");
  CHECK_FALSE(*store.lookup("broken.example"));  // "nocolon": not user:pass
  CHECK_FALSE(*store.lookup("other.example"));
}

TEST_CASE("configured credentials win; REGISTRY_AUTH_FILE comes before docker's file") {
  test::TempDir dir;
  test::write_file(dir.path() + "/podman.json",
                   R"({"auths": {"reg.example": {"auth": "cG9kOm1hbg=="}}})");
  test::write_file(
      dir.path() + "/docker/config.json",
      R"({"auths": {"reg.example": {"auth": "ZG9jazplcg=="}, "only.docker": {"auth": "ZDpl"}}})");
  Env env{{{"REGISTRY_AUTH_FILE", dir.path() + "/podman.json"},
           {"HOME", dir.path() + "/nohome"},
           {"DOCKER_CONFIG", dir.path() + "/docker"}}};
  CredentialStore store({{"configured.example", {"me", "pw", ""}}}, env.lookup());
  CHECK((*store.lookup("reg.example"))->username == "pod");
  CHECK((*store.lookup("only.docker"))->username == "d");
  CHECK((*store.lookup("configured.example"))->username == "me");
}

TEST_CASE("podman's own file under XDG_RUNTIME_DIR, after REGISTRY_AUTH_FILE, before docker's") {
  test::TempDir dir;
  test::write_file(dir.path() + "/run/containers/auth.json",
                   R"({"auths": {"reg.example": {"auth": "cG9kOm1hbg=="}}})");
  test::write_file(dir.path() + "/docker/config.json",
                   R"({"auths": {"reg.example": {"auth": "ZG9jazplcg=="}}})");
  Env env{{{"XDG_RUNTIME_DIR", dir.path() + "/run"}, {"DOCKER_CONFIG", dir.path() + "/docker"}}};
  CredentialStore store({}, env.lookup());
  CHECK((*store.lookup("reg.example"))->username == "pod");
  Env docker_only{
      {{"XDG_RUNTIME_DIR", dir.path() + "/none"}, {"DOCKER_CONFIG", dir.path() + "/docker"}}};
  CredentialStore fallback({}, docker_only.lookup());
  CHECK((*fallback.lookup("reg.example"))->username == "dock");
}

TEST_CASE("credential helpers: credHelpers per registry and credsStore, with the helper protocol") {
  test::TempDir dir;
  std::string bin = dir.path() + "/bin";
  // A fake helper: answers for one server, fails for others, logs what it was asked.
  test::write_file(
      bin + "/docker-credential-bwtest",
      "#!/bin/sh\nread server\necho \"$1 $server\" >> " + dir.path() +
          "/asked\n"
          "case \"$server\" in\n"
          "  helped.example) echo "
          "'{\"ServerURL\":\"helped.example\",\"Username\":\"hu\",\"Secret\":\"hs\"}' ;;\n"
          "  https://index.docker.io/v1/) echo '{\"Username\":\"<token>\",\"Secret\":\"idtok\"}' "
          ";;\n"
          "  bad.example) echo 'not json' ;;\n"
          "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
          "esac\n");
  chmod((bin + "/docker-credential-bwtest").c_str(), 0755);
  test::write_file(
      dir.path() + "/config.json",
      R"({"credsStore": "bwtest", "credHelpers": {"helped.example": "bwtest", "missing.example": "nosuchhelper"},
                       "auths": {"fallback.example": {"auth": "Zjpm"}}})");
  // The helper is found on PATH, as docker finds it; PATH is put back whatever happens.
  struct RestorePath {
    std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
    ~RestorePath() { setenv("PATH", saved.c_str(), 1); }
  } restore;
  std::string path = bin + ":" + restore.saved;
  setenv("PATH", path.c_str(), 1);
  Env env{{{"DOCKER_CONFIG", dir.path()}}};
  CredentialStore store({}, env.lookup());
  auto helped = store.lookup("helped.example");
  REQUIRE(helped);
  CHECK((*helped)->username == "hu");
  CHECK((*helped)->password == "hs");
  auto hub = store.lookup("docker.io");
  REQUIRE(hub);
  CHECK((*hub)->identity_token == "idtok");
  CHECK((*hub)->username.empty());
  CHECK_FALSE(*store.lookup("missing.example"));                // helper not installed: none
  CHECK((*store.lookup("fallback.example"))->username == "f");  // credsStore has none: auths
  auto bad = store.lookup("bad.example");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::registry_auth_failed);
  CHECK(test::read_file(dir.path() + "/asked").find("get helped.example") != std::string::npos);
}

TEST_CASE("a malformed credential file is an error, a missing one is not") {
  test::TempDir dir;
  test::write_file(dir.path() + "/config.json", "{oops");
  Env env{{{"DOCKER_CONFIG", dir.path()}}};
  CHECK_FALSE(CredentialStore({}, env.lookup()).lookup("x.example"));
  Env none{{{"DOCKER_CONFIG", dir.path() + "/absent"}}};
  auto r = CredentialStore({}, none.lookup()).lookup("x.example");
  REQUIRE(r);
  CHECK_FALSE(*r);
}

TEST_CASE("credential files of odd shapes, podman's runtime file, helpers that misbehave") {
  test::TempDir dir;
  // auths entries that are not objects, empty "auth" falling back to username, no user at all;
  // credHelpers naming a helper by a non-string; an empty credsStore.
  test::write_file(dir.path() + "/docker/config.json", R"({
      "credHelpers": {"num.example": 5},
      "credsStore": "",
      "auths": {"str.example": "user:pass",
                "empty.example": {"auth": "", "username": "fallback", "password": "p"},
                "nobody.example": {"password": "p"},
                "num.example": {"username": "plain", "password": "p"}}})");
  Env env{{{"DOCKER_CONFIG", dir.path() + "/docker"}}};
  CredentialStore store({}, env.lookup());
  CHECK_FALSE(*store.lookup("str.example"));
  CHECK((*store.lookup("empty.example"))->username == "fallback");
  CHECK_FALSE(*store.lookup("nobody.example"));
  CHECK((*store.lookup("num.example"))->username == "plain");
  // credHelpers not an object; auths missing.
  test::write_file(dir.path() + "/odd/config.json", R"({"credHelpers": ["x"]})");
  Env odd{{{"DOCKER_CONFIG", dir.path() + "/odd"}}};
  CHECK_FALSE(*CredentialStore({}, odd.lookup()).lookup("reg.example"));

  // podman's file under XDG_RUNTIME_DIR, before docker's; an empty XDG_RUNTIME_DIR is ignored;
  // with neither DOCKER_CONFIG nor HOME there is nothing to read.
  test::write_file(dir.path() + "/run/containers/auth.json",
                   R"({"auths": {"reg.example": {"auth": "cnVuOnRpbWU="}}})");
  Env podman{{{"XDG_RUNTIME_DIR", dir.path() + "/run"}, {"DOCKER_CONFIG", dir.path() + "/docker"}}};
  CHECK((*CredentialStore({}, podman.lookup()).lookup("reg.example"))->username == "run");
  Env empty_run{{{"XDG_RUNTIME_DIR", ""}}};
  CHECK_FALSE(*CredentialStore({}, empty_run.lookup()).lookup("reg.example"));
  test::write_file(dir.path() + "/run2/containers/auth.json", "not json");
  Env bad_run{{{"XDG_RUNTIME_DIR", dir.path() + "/run2"}}};
  auto bad = CredentialStore({}, bad_run.lookup()).lookup("reg.example");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::registry_auth_failed);

  // A helper that answers JSON without a Secret, and one whose name has a slash.
  test::write_file(dir.path() + "/bin/docker-credential-nosecret",
                   "#!/bin/sh\necho '{\"Username\": \"u\"}'\n");
  ::chmod((dir.path() + "/bin/docker-credential-nosecret").c_str(), 0755);
  test::write_file(dir.path() + "/helpers/config.json",
                   R"({"credHelpers": {"a.example": "nosecret", "b.example": "../evil"}})");
  const char* path_now = std::getenv("PATH");
  std::string saved = path_now ? path_now : "";
  setenv("PATH", (dir.path() + "/bin:" + saved).c_str(), 1);
  Env helpers{{{"DOCKER_CONFIG", dir.path() + "/helpers"}}};
  CredentialStore hs({}, helpers.lookup());
  auto nosecret = hs.lookup("a.example");
  auto evil = hs.lookup("b.example");
  setenv("PATH", saved.c_str(), 1);
  REQUIRE_FALSE(nosecret);
  CHECK(nosecret.error().message.find("malformed JSON") != std::string::npos);
  REQUIRE_FALSE(evil);
  CHECK(evil.error().message == "invalid credential helper name");
}
