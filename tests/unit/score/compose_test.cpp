// The config a switch builds: what the switch's Dockerfile says, as docker build would make it.
#include "score/score.h"

#include <doctest/doctest.h>

using namespace bw;
using nlohmann::json;

TEST_CASE("a composed config: the candidate's, the app's settings over it, the layers in order") {
  json source = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Env", {"PATH=/usr/local/bin:/usr/bin", "APP_MODE=prod", "DB_PASSWORD=hunter2"}},
        {"WorkingDir", "/app"},
        {"ExposedPorts", {{"8080/tcp", json::object()}}},
        {"Cmd", {"python3", "/app/main.py"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:os", "sha256:py", "sha256:app"}}}},
      {"history",
       {{{"created_by", "ADD rootfs"}},
        {{"created_by", "CMD bash"}, {"empty_layer", true}},
        {{"created_by", "RUN apt-get install python3"}},
        {{"created_by", "COPY main.py /app/"}},
        {{"created_by", "CMD [\"python3\"]"}, {"empty_layer", true}}}}};
  json candidate = {
      {"config",
       {{"Env", {"PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}},
        {"Entrypoint", {"/usr/bin/python3.11"}},
        {"User", "65532"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:static", "sha256:py3"}}}},
      {"history", {{{"created_by", "bazel static"}}, {{"created_by", "bazel py"}}}}};
  AppNeeds needs;
  needs.entry = {"python3", "/app/main.py"};
  needs.from_cmd = true;
  needs.runtime = "python";
  // The candidate's ENTRYPOINT runs the script: CMD keeps only its arguments.
  RunInstructions run = run_instructions(source, needs, {"/usr/bin/python3.11"}, "python");
  CHECK_FALSE(run.entrypoint);
  REQUIRE(run.cmd);
  CHECK(*run.cmd == std::vector<std::string>{"/app/main.py"});
  CHECK(dockerfile_lines(run) == "CMD [\"/app/main.py\"]\n");

  json c = composed_config(source, candidate, {"/app/"}, run, std::string(kHardenedUser),
                           "2026-12-05T00:00:00Z", "ours");
  const json& cfg = c["config"];
  // PATH stays the candidate's; a secret-looking name is left out; the rest of Env carried.
  CHECK(cfg["Env"] == json({"PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                            "APP_MODE=prod"}));
  CHECK(cfg["Entrypoint"] == json({"/usr/bin/python3.11"}));
  CHECK(cfg["Cmd"] == json({"/app/main.py"}));
  CHECK(cfg["WorkingDir"] == "/app");
  CHECK(cfg["ExposedPorts"].contains("8080/tcp"));
  CHECK(cfg["User"] == "65532:65532");
  // The candidate's layers, then one holding the app's closure (not the old layers: the one
  // apt installed Python in is not carried).
  CHECK(c["rootfs"]["diff_ids"] ==
        json({"sha256:static", "sha256:py3", std::string(kClosureLayer)}));
  // History: the candidate's, the closure's COPY, and ours.
  REQUIRE(c["history"].size() == 4);
  CHECK(c["history"][2]["created_by"] == "COPY --from=build /app/");
  CHECK_FALSE(c["history"][2].contains("empty_layer"));
  CHECK(c["history"][3]["created_by"] == "ours");
  CHECK(c["history"][3]["empty_layer"] == true);
  // As a switch is scored: the image's own USER (none: root).
  json as_is = composed_config(source, candidate, {"/app/"}, run, std::nullopt, "t", "ours");
  CHECK_FALSE(as_is["config"].contains("User"));

  // Any other command replaces the candidate's ENTRYPOINT, which resets its CMD.
  AppNeeds server;
  server.entry = {"/app/server", "--port", "8080"};
  json exec_form = {{"config", {{"Entrypoint", {"/app/server"}}, {"Cmd", {"--port", "8080"}}}}};
  RunInstructions r2 = run_instructions(exec_form, server, {"/usr/bin/python3.11"}, "python");
  REQUIRE(r2.entrypoint);
  CHECK(*r2.entrypoint == std::vector<std::string>{"/app/server"});
  CHECK(*r2.cmd == std::vector<std::string>{"--port", "8080"});
  json busybox = {{"config", {{"Cmd", {"sh"}}}}};
  RunInstructions r3;
  r3.entrypoint = std::vector<std::string>{"/app/start.sh"};
  json c3 =
      composed_config(exec_form, busybox, {"/app/"}, r3, std::string(kHardenedUser), "t", "ours");
  CHECK(c3["config"]["Entrypoint"] == json({"/app/start.sh"}));
  CHECK_FALSE(c3["config"].contains("Cmd"));
}

TEST_CASE("a base named by reference provides what was measured in it") {
  auto exe = [](const char* path, ElfKind kind, Libc libc) {
    Executable x;
    x.file.path = path;
    x.elf.kind = kind;
    x.elf.libc = libc;
    return x;
  };
  json config = {{"config", {{"Entrypoint", {"/usr/bin/java", "-jar"}}, {"User", "65532"}}}};
  // distroless/java-like: glibc's own files, a runtime, no shell.
  ImageSummary java;
  java.executables = {exe("lib/x86_64-linux-gnu/libc.so.6", ElfKind::shared_library, Libc::none),
                      exe("usr/lib/jvm/bin/java", ElfKind::executable, Libc::glibc)};
  java.runtimes = {"java"};
  java.ca_certificates = true;
  json e = candidate_entry("reg.example/golden/java:17", java, config);
  CHECK(e["id"] == "reg.example/golden/java:17");
  CHECK(e["image"] == "reg.example/golden/java:17");
  CHECK(e["libc"] == "glibc");
  CHECK(e["runtime"] == "java");
  CHECK(e["shell"] == false);
  CHECK(e["ca_certificates"] == true);
  CHECK(e["tzdata"] == false);
  CHECK(e["entrypoint"] == json{"/usr/bin/java", "-jar"});
  CHECK(e["programs"] == json{"java"});
  CHECK(e["user"] == "65532");

  // Alpine-like: musl's loader, busybox's shell and apk.
  ImageSummary alpine;
  alpine.executables = {exe("lib/ld-musl-x86_64.so.1", ElfKind::shared_library, Libc::none),
                        exe("bin/busybox", ElfKind::executable, Libc::musl)};
  FileRef sh, apk;
  sh.path = "bin/sh";
  apk.path = "sbin/apk";
  alpine.attack_surface.shell = {sh};
  alpine.attack_surface.package_manager = {apk};
  e = candidate_entry("reg.example/golden/alpine:3", alpine, json::object());
  CHECK(e["libc"] == "musl");
  CHECK(e["shell"] == true);
  CHECK(e["bash"] == false);
  CHECK(e["package_manager"] == true);
  CHECK(e["runtime"] == "");
  CHECK_FALSE(e.contains("entrypoint"));

  // Static-like: nothing that runs, no libc.
  e = candidate_entry("reg.example/golden/static:1", ImageSummary{}, json::object());
  CHECK(e["libc"] == "");
  CHECK(e["programs"] == json::array());
}
