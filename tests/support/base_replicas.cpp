#include "base_replicas.h"

#include "process.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <sstream>

namespace bw::test {

TestImage distroless_static_replica(const std::string& marker) {
  TarBuilder tar;
  if (!marker.empty()) tar.file(marker, "golden\n");
  for (const char* p : {"base-files", "netbase", "tzdata", "ca-certificates"})
    add_installed_package(tar, p);
  tar.file("etc/passwd",
           "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/"
           "nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
      .file("etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
      .dir("home/nonroot", 0700)
      .file("etc/ssl/certs/ca-certificates.crt", read_file("/etc/ssl/certs/ca-certificates.crt"));
  TestImage im{{make_layer(tar.build())}};
  im.config = {{"User", "65532"}, {"WorkingDir", "/home/nonroot"}};
  im.history = hist({{"bazel build //base:static_nonroot_debian12", false}});
  return im;
}

TestImage distroless_base_replica() {
  TestImage im = distroless_static_replica();
  TarBuilder tar;
  for (const char* p : {"libc6", "libssl3"}) add_installed_package(tar, p);
  im.layers.push_back(make_layer(tar.build()));
  im.history = hist({{"bazel build //base:static_nonroot_debian12", false},
                     {"bazel build //base:base_nonroot_debian12", false}});
  return im;
}

TestImage distroless_cc_replica() {
  TestImage im = distroless_base_replica();
  TarBuilder tar;
  for (const char* p : {"libgcc-s1", "libstdc++6", "libgomp1"}) add_installed_package(tar, p);
  im.layers.push_back(make_layer(tar.build()));
  im.history.push_back(hist({{"bazel build //cc:cc_nonroot_debian12", false}})[0]);
  return im;
}

namespace {

// Adds to `tar`, as installed, the Debian packages of the libraries `binaries` load that are not
// in `have` (which gains them): what a runtime needs of the system, as the package's Depends
// bring it in.
void add_loaded_libraries(TarBuilder& tar, const std::vector<std::string>& binaries,
                          std::set<std::string>& have) {
  std::vector<std::string> argv = {"ldd"};
  argv.insert(argv.end(), binaries.begin(), binaries.end());
  std::string libs;
  run_command(argv, libs);  // non-zero when one of them is not dynamic; the rest are listed
  std::istringstream lines(libs);
  for (std::string line; std::getline(lines, line);) {
    auto arrow = line.find("=> /");
    if (arrow == std::string::npos) continue;
    std::string path = line.substr(arrow + 3, line.find(" (", arrow) - arrow - 3);
    std::string owner;
    if (run_command({"dpkg", "-S", path}, owner) != 0) continue;
    std::string package = owner.substr(0, owner.find_first_of(":"));
    if (have.insert(package).second) add_installed_package(tar, package);
  }
}

const std::set<std::string> kCcPackages = {"libc6", "libssl3", "libgcc-s1", "libstdc++6",
                                           "libgomp1"};

}  // namespace

TestImage distroless_nodejs_replica() {
  TestImage im = distroless_cc_replica();
  std::string node = std::filesystem::canonical("/usr/bin/node").string();
  TarBuilder tar;
  tar.dir("nodejs", 0755).dir("nodejs/bin", 0755).file("nodejs/bin/node", read_file(node), 0755);
  // The libraries node loads that the layers below lack (Debian's node: libnode and its own).
  std::set<std::string> have = kCcPackages;
  add_loaded_libraries(tar, {node}, have);
  // zstd, as the layer is large: quick to build, and read by the daemon like any other.
  im.layers.push_back(make_layer(tar.build(), LayerCompression::zstd));
  im.config["Entrypoint"] = {"/nodejs/bin/node"};
  im.history.push_back(hist({{"bazel build //nodejs:nodejs20_nonroot_debian12", false}})[0]);
  return im;
}

TestImage distroless_java17_replica() {
  TestImage im = distroless_cc_replica();
  TarBuilder tar;
  add_installed_package(tar, kJrePackage);
  // The libraries the JRE's launcher and native libraries load that cc lacks (zlib, lcms, jpeg,
  // freetype…), and /usr/bin/java as distroless links it.
  std::set<std::string> have = kCcPackages;
  have.insert(kJrePackage);
  std::vector<std::string> binaries;
  std::string listing;
  REQUIRE(run_command({"dpkg", "-L", kJrePackage}, listing) == 0);
  std::istringstream lines(listing);
  for (std::string path; std::getline(lines, path);)
    if ((path.ends_with(".so") || path.ends_with("/bin/java")) &&
        std::filesystem::is_regular_file(std::filesystem::symlink_status(path)))
      binaries.push_back(path);
  add_loaded_libraries(tar, binaries, have);
  tar.symlink("usr/bin/java", std::string("/") + kJavaHome + "/bin/java");
  im.layers.push_back(make_layer(tar.build(), LayerCompression::zstd));
  im.config["Entrypoint"] = {"/usr/bin/java", "-jar"};
  im.config["Env"] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "LANG=C.UTF-8",
                      "JAVA_VERSION=17"};
  im.history.push_back(hist({{"bazel build //java:java17_nonroot_debian12", false}})[0]);
  return im;
}

TestImage distroless_python3_replica() {
  TestImage im = distroless_base_replica();
  TarBuilder tar;
  for (const char* p : {"python3.11-minimal", "libpython3.11-minimal", "zlib1g", "libexpat1"})
    add_installed_package(tar, p);
  im.layers.push_back(make_layer(tar.build()));
  im.config["Entrypoint"] = {"/usr/bin/python3.11"};
  im.history = hist({{"bazel build //base:static_nonroot_debian12", false},
                     {"bazel build //base:base_nonroot_debian12", false},
                     {"bazel build //python3:python3_nonroot_debian12", false}});
  return im;
}

TestImage busybox_replica() {
  TarBuilder tar;
  tar.file("bin/busybox", read_file("/bin/busybox"), 0755);
  std::string applets;
  REQUIRE(run_command({"/bin/busybox", "--list-full"}, applets) == 0);
  std::istringstream lines(applets);
  for (std::string path; std::getline(lines, path);)
    if (!path.empty() && path != "bin/busybox") tar.symlink(path, "/bin/busybox");
  tar.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  TestImage im{{make_layer(tar.build())}};
  im.config = {{"Cmd", {"sh"}}};
  im.history = hist({{"/bin/sh -c #(nop) ADD file:busybox in / ", false}, {"CMD [\"sh\"]", true}});
  return im;
}

std::size_t check_no_carried_removals(Daemon& d, const nlohmann::json& report) {
  auto judged =
      d.get_json("/v1/images/" + report["manifest_digest"].get<std::string>() + "/candidates");
  std::size_t walked = 0;
  std::set<std::string> judged_ids;
  for (auto& a : judged["ruled_out"]) judged_ids.insert(a["id"].get<std::string>());
  for (auto& a : judged["switches"]) {
    if (a["projection"] != "measured" || !a.contains("measured")) continue;
    ++walked;
    judged_ids.insert(a["id"].get<std::string>());
    auto base_report =
        d.get_json("/v1/images/" + a["measured"]["manifest_digest"].get<std::string>() + "/report");
    std::set<std::string> carried;
    for (auto& f : base_report["findings"])
      carried.insert(f["rule_id"].get<std::string>() + " /" +
                     f["evidence"].value("path", std::string()));
    for (auto& f : a["removes"]["findings"])
      CHECK_MESSAGE(!carried.count(f["rule_id"].get<std::string>() + " " + f.value("path", "/")),
                    a["id"] << " removes " << f.dump() << " which it carries");
  }
  // Each measured candidate is judged one way or the other, except the image's own base.
  const nlohmann::json bases = d.get_json("/v1/bases");
  for (auto& b : bases["bases"])
    if (b["measured"].is_object() && b["measured"].contains("manifest_digest") &&
        b["image"] != report["base"]["name"])
      CHECK_MESSAGE(judged_ids.count(b["id"].get<std::string>()),
                    b["id"] << " is neither projected nor ruled out: " << judged.dump());
  return walked;
}

}  // namespace bw::test
