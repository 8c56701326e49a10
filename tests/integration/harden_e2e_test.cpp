// `bulwark harden` end to end: apps built the ordinary way on a Debian-like base, hardened onto
// faithful replicas of the candidate bases in a real registry; the pushed image is scanned and
// scores what the projection promised, and its root filesystem, unpacked, runs the app in a
// chroot as the non-root user the build set.
#include "base_replicas.h"
#include "daemon.h"
#include "registry.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <tuple>

using namespace bw::test;
using nlohmann::json;

namespace {

std::string blob_path(const LocalRegistry& reg, const std::string& digest) {
  const std::string hex = digest.substr(7);
  return reg.storage() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex +
         "/data";
}

// The image's layers applied in order under `root` (the test images hold no whiteouts);
// `blob` says where a digest's bytes are.
json unpack_blobs(const std::function<std::string(const std::string&)>& blob,
                  const std::string& manifest_digest, const std::string& root) {
  json manifest = json::parse(read_file(blob(manifest_digest)));
  for (auto& l : manifest["layers"]) {
    std::string out;
    // GNU tar tells gzip and zstd apart by themselves.
    REQUIRE(run_command({"tar", "-xf", blob(l["digest"]), "-C", root}, out) == 0);
  }
  return json::parse(read_file(blob(manifest["config"]["digest"])));
}

json unpack(const LocalRegistry& reg, const std::string& manifest_digest, const std::string& root) {
  return unpack_blobs([&](const std::string& d) { return blob_path(reg, d); }, manifest_digest,
                      root);
}

// An OCI image layout's blob.
std::string layout_blob(const std::string& layout, const std::string& digest) {
  return layout + "/blobs/sha256/" + digest.substr(7);
}

// What the image runs (ENTRYPOINT then CMD), run in a chroot of `root` from its WORKDIR as its
// USER ("uid:gid"), with /proc mounted as a container runtime mounts it (the JVM finds its own
// libraries through /proc/self/exe).
std::string run_in_chroot(const std::string& root, const json& config) {
  const json& c = config["config"];
  const std::string user = c.value("User", std::string("0:0"));
  std::filesystem::create_directory(root + "/proc");
  std::vector<std::string> argv = {"unshare",
                                   "--mount",
                                   "--pid",
                                   "--fork",
                                   "--mount-proc",
                                   "--root=" + root,
                                   "--wd=" + c.value("WorkingDir", std::string("/")),
                                   "--setgid",
                                   user.substr(user.find(':') + 1),
                                   "--setuid",
                                   user.substr(0, user.find(':'))};
  for (const char* k : {"Entrypoint", "Cmd"})
    if (c.contains(k) && c[k].is_array())
      for (auto& w : c[k]) argv.push_back(w);
  std::string out;
  int rc = run_command(argv, out);
  CAPTURE(out);
  CHECK(rc == 0);
  return out;
}

struct App {
  std::string name;
  TestImage image;
  std::string onto;  // empty: what the report's best measured switch is
  std::set<std::string> expect_onto;
  std::string prints;
  bool elsewhere = false;        // pushed to another registry: every layer copied, none mounted
  json closure = json{"/app/"};  // what harden carries of the image's own layers
};

// A Debian-like base layer and `app` on it, built as `docker build` records it.
TestImage on_debian(TarBuilder app, json config, const char* step, bool ca_certificates = true) {
  TestImage im{{make_layer(debian_base(ca_certificates)), make_layer(app.build())}};
  im.config = std::move(config);
  im.created = "2026-11-20T00:00:00Z";
  im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                     {"/bin/sh -c #(nop)  CMD [\"bash\"]", true},
                     {step, false}});
  return im;
}

std::string compiled(const std::string& dir, const std::string& source, bool static_link) {
  write_file(dir + "/hello.c", source);
  std::vector<std::string> argv = {"clang-14", "-O1", "-o", dir + "/hello", dir + "/hello.c"};
  if (static_link) argv.push_back("-static");
  std::string out;
  REQUIRE_MESSAGE(run_command(argv, out) == 0, out);
  return read_file(dir + "/hello");
}

}  // namespace

TEST_CASE("harden builds the switch, pushes it, and the result scores as projected and runs") {
  if (geteuid() != 0) {
    MESSAGE("skipped: running the hardened images in a chroot needs root");
    return;
  }
  LocalRegistry reg;
  push_image(reg.host(), "mirror/distroless-static", "nonroot", distroless_static_replica());
  push_image(reg.host(), "mirror/distroless-base", "nonroot", distroless_base_replica());
  push_image(reg.host(), "mirror/distroless-python3", "nonroot", distroless_python3_replica());
  push_image(reg.host(), "mirror/distroless-nodejs", "nonroot", distroless_nodejs_replica());
  push_image(reg.host(), "mirror/distroless-java", "nonroot", distroless_java17_replica());
  push_image(reg.host(), "mirror/busybox", "1", busybox_replica());
  json mirrors = json::array();
  for (auto [id, image] : {std::pair{"distroless-static", "mirror/distroless-static:nonroot"},
                           std::pair{"distroless-base", "mirror/distroless-base:nonroot"},
                           std::pair{"distroless-python3", "mirror/distroless-python3:nonroot"},
                           std::pair{"distroless-nodejs", "mirror/distroless-nodejs:nonroot"},
                           std::pair{"distroless-java", "mirror/distroless-java:nonroot"},
                           std::pair{"busybox", "mirror/busybox:1"}})
    mirrors.push_back({{"id", id}, {"image", reg.host() + "/" + image}});
  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}},
                {"bases", {{"measure", true}, {"mirrors", mirrors}}}});
  REQUIRE(eventually(
      [&] {
        json bases = d.get_json("/v1/bases");
        int measured = 0;
        for (auto& b : bases["bases"])
          measured += b["measured"].is_object() && b["measured"].contains("grade");
        return measured == 6;
      },
      std::chrono::seconds(180)));

  TempDir work;
  const std::string c_source = "#include <stdio.h>\nint main(void) { puts(\"hello from C\"); }\n";
  std::vector<App> apps;
  // A static binary: nothing of the base is needed.
  apps.push_back(
      {"static",
       on_debian(TarBuilder().file("app/hello", compiled(work.path(), c_source, true), 0755),
                 {{"Entrypoint", {"/app/hello"}}}, "COPY hello /app/ # buildkit"),
       "",
       {"scratch", "distroless-static"},
       "hello from C\n"});
  // A C program linked against glibc: onto a base with libc.
  apps.push_back(
      {"glibc",
       on_debian(TarBuilder().file("app/hello", compiled(work.path(), c_source, false), 0755),
                 {{"Entrypoint", {"/app/hello"}}}, "COPY hello /app/ # buildkit"),
       "distroless-base",
       {"distroless-base"},
       "hello from C\n"});
  // The same program onto a team's own base named by reference, in no catalog (a copy of cc):
  // scanned first, what it provides read from what was measured.
  push_image(reg.host(), "golden/cc", "1", distroless_cc_replica());
  const std::string golden = reg.host() + "/golden/cc:1";
  apps.push_back(
      {"golden",
       on_debian(TarBuilder().file("app/hello", compiled(work.path(), c_source, false), 0755),
                 {{"Entrypoint", {"/app/hello"}}}, "COPY hello /app/ # buildkit"),
       golden,
       {golden},
       "hello from C\n"});
  // A shell script (and no CA certificates, which busybox lacks): a base with a shell.
  apps.push_back(
      {"script",
       on_debian(TarBuilder().file("app/start.sh", "#!/bin/sh\necho \"hello from $0\"\n", 0755),
                 {{"Entrypoint", {"/app/start.sh"}}}, "COPY start.sh /app/ # buildkit", false),
       "busybox",
       {"busybox"},
       "hello from /app/start.sh\n",
       true});
  // A Python app run by CMD alone, Python and a library it imports (attrs) installed on the old
  // base by apt: onto the python3 base, whose own ENTRYPOINT runs the script, with the library's
  // dist-packages carried.
  {
    TarBuilder py;
    for (const char* p :
         {"python3-minimal", "python3.11-minimal", "libpython3.11-minimal", "python3-attr"})
      add_installed_package(py, p);
    TestImage im{{make_layer(debian_base(true)), make_layer(py.build()),
                  make_layer(TarBuilder()
                                 .file("app/main.py",
                                       "import sys, attr\nprint('hello from python',"
                                       " sys.version_info[0], 'with attrs', attr.__name__)\n")
                                 .build())}};
    im.config = {{"Cmd", {"python3", "/app/main.py"}}, {"WorkingDir", "/app"}};
    im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                       {"RUN apt-get install -y python3 python3-attr # buildkit", false},
                       {"COPY main.py /app/ # buildkit", false},
                       {"WORKDIR /app", true},
                       {"CMD [\"python3\", \"/app/main.py\"]", true}});
    im.created = "2026-11-20T00:00:00Z";
    apps.push_back({"python",
                    im,
                    "distroless-python3",
                    {"distroless-python3"},
                    "hello from python 3 with attrs attr\n"});
    apps.back().closure = {"/app/", "/usr/lib/python3/dist-packages/"};
  }

  LocalRegistry other;
  // A Node app run by a shell-form CMD relative to its WORKDIR, node installed on the old base:
  // onto the nodejs base, whose ENTRYPOINT is its own node, run from the same WORKDIR.
  {
    TestImage im{
        {make_layer(debian_base(true)),
         make_layer(TarBuilder().file("usr/bin/node", read_file("/bin/true"), 0755).build()),
         make_layer(TarBuilder()
                        .file("app/index.js", "console.log('hello from node', 1 + 1);\n")
                        .file("app/package.json", R"({"name": "app", "version": "1.0.0"})")
                        .build())}};
    im.config = {{"Cmd", {"/bin/sh", "-c", "node index.js"}}, {"WorkingDir", "/app"}};
    im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                       {"RUN apt-get install -y nodejs # buildkit", false},
                       {"COPY . /app # buildkit", false},
                       {"WORKDIR /app", true},
                       {"CMD node index.js", true}});
    im.created = "2026-11-20T00:00:00Z";
    apps.push_back({"node", im, "", {"distroless-nodejs"}, "hello from node 2\n"});
  }

  // A Java app run as `java -jar` by CMD, the JRE installed on the old base by apt (with the
  // link its alternatives make): onto the java17 base, whose ENTRYPOINT is `java -jar`.
  {
    write_file(work.path() + "/Main.java",
               "public class Main { public static void main(String[] a) {\n"
               "  System.out.println(\"hello from java \" + Runtime.version().feature()); } }\n");
    std::string out;
    REQUIRE_MESSAGE(run_command({"javac", "-d", work.path(), work.path() + "/Main.java"}, out) == 0,
                    out);
    REQUIRE_MESSAGE(run_command({"jar", "--create", "--file", work.path() + "/app.jar",
                                 "--main-class", "Main", "-C", work.path(), "Main.class"},
                                out) == 0,
                    out);
    TarBuilder jre;
    add_installed_package(jre, kJrePackage);
    jre.symlink("etc/alternatives/java", std::string("/") + kJavaHome + "/bin/java")
        .symlink("usr/bin/java", "/etc/alternatives/java");
    TestImage im{
        {make_layer(debian_base(true)), make_layer(jre.build(), LayerCompression::zstd),
         make_layer(
             TarBuilder().file("app/app.jar", read_file(work.path() + "/app.jar")).build())}};
    im.config = {{"Cmd", {"java", "-jar", "/app/app.jar"}}, {"WorkingDir", "/app"}};
    im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                       {"RUN apt-get install -y openjdk-17-jre-headless # buildkit", false},
                       {"COPY app.jar /app/ # buildkit", false},
                       {"WORKDIR /app", true},
                       {"CMD [\"java\", \"-jar\", \"/app/app.jar\"]", true}});
    im.created = "2026-11-20T00:00:00Z";
    apps.push_back({"java", im, "", {"distroless-java"}, "hello from java 17\n"});
  }

  // A C program that links zlib, which apt installed for it: onto a base whose library
  // directories lack zlib, with the library (the link its soname names and the file) carried.
  {
    TarBuilder zlib;
    add_installed_package(zlib, "zlib1g");
    write_file(work.path() + "/z.c",
               "#include <stdio.h>\n#include <zlib.h>\n"
               "int main(void) { printf(\"zlib %s\\n\", zlibVersion()); }\n");
    std::string out;
    REQUIRE_MESSAGE(
        run_command({"clang-14", "-O1", "-o", work.path() + "/z", work.path() + "/z.c", "-lz"},
                    out) == 0,
        out);
    std::string prints;
    REQUIRE(run_command({work.path() + "/z"}, prints) == 0);
    TestImage im{
        {make_layer(debian_base(true)), make_layer(zlib.build()),
         make_layer(TarBuilder().file("app/z", read_file(work.path() + "/z"), 0755).build())}};
    im.config = {{"Entrypoint", {"/app/z"}}};
    im.created = "2026-11-20T00:00:00Z";
    im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                       {"RUN apt-get install -y zlib1g # buildkit", false},
                       {"COPY z /app/ # buildkit", false}});
    apps.push_back({"zlib", im, "distroless-base", {"distroless-base"}, prints});
    apps.back().closure = {"/app/", "/lib/x86_64-linux-gnu/libz.so.1",
                           "/lib/x86_64-linux-gnu/libz.so.1.2.13"};
  }

  for (auto& app : apps) {
    CAPTURE(app.name);
    const LocalRegistry& to = app.elsewhere ? other : reg;
    push_image(reg.host(), "apps/" + app.name, "1", app.image);
    std::vector<std::string> argv = {BULWARK_CLI_PATH,
                                     "--server",
                                     d.api().server(),
                                     "harden",
                                     reg.host() + "/apps/" + app.name + ":1",
                                     "--push",
                                     to.host() + "/hardened/" + app.name + ":1",
                                     "--json"};
    if (!app.onto.empty()) argv.insert(argv.end(), {"--onto", app.onto});
    std::string out;
    int rc = run_command(argv, out);
    CAPTURE(out);
    REQUIRE(rc == 0);
    json h = json::parse(out.substr(out.find('{')));
    MESSAGE(app.name << ": " << h["before"]["score"] << " -> projected " << h["projected"]["score"]
                     << ", measured " << h["after"]["score"] << " onto " << h["onto"]["id"] << " ("
                     << h["layers"].dump() << ")");
    CHECK(app.expect_onto.count(h["onto"]["id"].get<std::string>()));
    // Scanned as any image: the score the projection promised, to the point.
    REQUIRE(h.contains("after"));
    CHECK(h["after"]["score"] == h["projected"]["score"]);
    CHECK(h["as_projected"] == true);
    CHECK(h["after"]["score"].get<int>() > h["before"]["score"].get<int>());
    // Within one registry every base layer is mounted (no byte moves); to another, each is
    // copied as it streams; the app's closure is one layer of ours.
    CHECK(h["layers"]["built"] == 1);
    CHECK(h["layers"]["total"].get<int>() ==
          h["layers"]["mounted"].get<int>() + h["layers"]["copied"].get<int>() +
              h["layers"]["present"].get<int>() + h["layers"]["built"].get<int>());
    CHECK(h["closure"]["paths"] == app.closure);
    const std::string digest = h["manifest_digest"];
    json report = d.get_json("/v1/images/" + digest + "/report");
    CHECK(report["score"] == h["projected"]["score"]);
    // The switch the source's report lists projects the same score.
    json source =
        d.get_json("/v1/images/" + h["source"]["manifest_digest"].get<std::string>() + "/report");
    for (auto& a : source["recommendations"])
      if (a["action"] == "switch" && a["id"] == h["onto"]["id"])
        CHECK(a["built_score"] == h["projected"]["score"]);
    // Every measured candidate against every app: none is credited with removing what it
    // carries itself.
    check_no_carried_removals(d, source);

    TempDir root;
    ::chmod(root.path().c_str(), 0755);  // the image's "/", which mkdtemp made 0700
    json config = unpack(to, digest, root.path());
    CHECK(config["config"]["User"] == "65532:65532");
    CHECK(run_in_chroot(root.path(), config) == app.prints);
    // Only the closure of the image's own layers is carried: not the runtime apt installed, nor
    // the old base's apt-get.
    for (const char* left :
         {"etc/alternatives/java", "usr/bin/node", "var/lib/dpkg/status.d/python3-minimal",
          "usr/bin/apt-get", "var/lib/dpkg/status"})
      CHECK_MESSAGE(!std::filesystem::exists(root.path() + "/" + left), left);

    // The same switch sent back and written here as an OCI layout (a directory, or a tar as
    // skopeo's oci-archive reads it), nothing pushed: the CLI scans what it wrote.
    if (app.name == "python" || app.name == "static") {
      TempDir here;
      const bool archive = app.name == "static";
      const std::string layout = here.path() + "/layout";
      const std::string where =
          archive ? "oci-archive:" + here.path() + "/image.tar" : "oci:" + layout;
      std::vector<std::string> written = {
          BULWARK_CLI_PATH, "--server", d.api().server(), "harden", argv[4],
          "--output",       where,      "--json"};
      if (!app.onto.empty()) written.insert(written.end(), {"--onto", app.onto});
      REQUIRE(run_command(written, out) == 0);
      json w = json::parse(out.substr(out.find('{')));
      CHECK(w["output"] == where);
      CHECK(w["onto"]["id"] == h["onto"]["id"]);
      CHECK(w["projected"] == h["projected"]);
      REQUIRE(w.contains("after"));
      CHECK(w["after"]["score"] == w["projected"]["score"]);
      CHECK(w["as_projected"] == true);
      if (archive) {
        std::filesystem::create_directory(layout);
        REQUIRE(run_command({"tar", "-xf", here.path() + "/image.tar", "-C", layout}, out) == 0);
      }
      CHECK_FALSE(std::filesystem::exists(here.path() + "/layout.partial.tar"));
      json index = json::parse(read_file(layout + "/index.json"));
      CHECK(index["manifests"][0]["digest"] == w["manifest_digest"]);
      CHECK(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1");
      TempDir unpacked;
      ::chmod(unpacked.path().c_str(), 0755);
      json wc = unpack_blobs([&](const std::string& dg) { return layout_blob(layout, dg); },
                             w["manifest_digest"], unpacked.path());
      CHECK(run_in_chroot(unpacked.path(), wc) == app.prints);
    }
  }

  // A candidate never measured cannot be built, one without the app's runtime or a library it
  // loads cannot carry it, and one not in the catalog is not found: each refused with the
  // reason, nothing pushed.
  for (auto [app, onto, says] :
       {std::tuple{"python", "chainguard-python", "not measured"},
        std::tuple{"python", "alpine", "it has no python runtime"},
        std::tuple{"python", "no-such-base", "no candidate base"},
        std::tuple{"python", "registry.example/golden/python:1", "allowed"}}) {
    const std::string candidate = onto;
    CAPTURE(candidate);
    std::string out;
    int rc = run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "harden",
                          reg.host() + "/apps/" + app + ":1", "--push",
                          reg.host() + "/hardened/refused:1", "--onto", onto},
                         out);
    CAPTURE(out);
    CHECK(rc == 3);
    CHECK(out.find(says) != std::string::npos);
  }
  CHECK(reg.requests("PUT", "/v2/hardened/refused/") == 0);
}
