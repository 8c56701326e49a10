// What the analysers find, through the real registry and daemon: an image whose layers
// exercise gzip, zstd and plain tar, pax long names, hard links, whiteouts and opaque
// directories, a secret deleted by a later layer, and a setuid bit cleared by one.
#include "daemon.h"
#include "process.h"
#include "registry.h"
#include "rpmdb.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <map>

using namespace bw::test;
using nlohmann::json;

namespace {

bool lists(const json& arr, const std::string& path) {
  return std::any_of(arr.begin(), arr.end(),
                     [&](const json& f) { return f.value("path", "") == path; });
}

const std::string kAwsKey = "AKIAQWERTYUIOPASDFGH";

}  // namespace

TEST_CASE("the merged image view: OS, packages, accounts, attack surface, secrets, ELF") {
  LocalRegistry reg;
  Daemon d;
  std::string dash = read_file("/bin/dash"), truebin = read_file("/bin/true");
  std::string base =
      TarBuilder()
          .file("etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
          .file("etc/debian_version", "12.5\n")
          .file("var/lib/dpkg/status",
                "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\nSource: "
                "glibc\nArchitecture: amd64\n\n"
                "Package: curl\nStatus: install ok installed\nVersion: "
                "7.88.1-10+deb12u5\nArchitecture: amd64\n\n"
                "Package: git\nStatus: deinstall ok config-files\nVersion: 1:2.39.2-1.1\n")
          .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/app:/bin/sh\n")
          .file("etc/group", "root:x:0:\napp:x:1000:\n")
          .file("etc/shadow", "root:*:19000:0:99999:7:::\napp::19000:0:99999:7:::\n", 0640)
          .file("bin/sh", dash, 0755)
          .file("usr/bin/curl", truebin, 0755)
          .file("usr/bin/passwd", truebin, 04755)
          .file("var/cache/apt/archives/junk.deb", "x")
          .dir("tmp", 01777)
          .build();
  std::string deep = "app/" + std::string(120, 'd') + "/" + std::string(120, 'e') + "/.env";
  std::string app = TarBuilder()
                        .file("app/server", truebin, 0755)
                        .hardlink("app/server2", "app/server")
                        .file("app/.env", "AWS_ACCESS_KEY_ID=" + kAwsKey + "\n")
                        .file(deep, "x")
                        .file("root/.ssh/id_rsa",
                              "-----BEGIN OPENSSH PRIVATE KEY-----\n" + std::string(64, 'K') +
                                  "\n-----END OPENSSH PRIVATE KEY-----\n",
                              0600)
                        .dir("opt/data", 0777)
                        .build();
  std::string cleanup = TarBuilder()
                            .file("root/.ssh/.wh.id_rsa", "")
                            .file("usr/bin/.wh.curl", "")
                            .file("var/cache/apt/.wh..wh..opq", "")
                            .file("usr/bin/passwd", truebin, 0755)  // chmod u-s
                            .build();
  TestLayer lb = make_layer(base, LayerCompression::gzip),
            la = make_layer(app, LayerCompression::zstd),
            lc = make_layer(cleanup, LayerCompression::none);
  TestImage im{{lb, la, lc}};
  im.config = {{"User", "app"}, {"Entrypoint", {"/app/server"}}};
  push_image(reg.host(), "team/analysed", "1", im);

  json s = d.scan(reg.host() + "/team/analysed:1");
  REQUIRE(s["status"] == "done");
  json image = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>());
  CHECK(image["os"]["family"] == "debian");
  CHECK(image["os"]["name"] == "12.5");
  REQUIRE(image["package_count"] == 2);
  CHECK(image["packages"][0]["layer_digest"] == lb.digest());
  CHECK(image["accounts"].size() == 2);
  json pw = image["passwords"];
  CHECK(std::any_of(pw.begin(), pw.end(),
                    [](auto& p) { return p["name"] == "app" && p["password"] == "empty"; }));
  CHECK(lists(image["attack_surface"]["shell"], "bin/sh"));
  CHECK_FALSE(lists(image["attack_surface"]["network_tool"], "usr/bin/curl"));  // whited out
  CHECK(image["setuid_files"].empty());  // u-s in the last layer
  CHECK(lists(image["world_writable"], "opt/data"));
  CHECK_FALSE(lists(image["world_writable"], "tmp"));
  CHECK(lists(image["credential_files"], "app/.env"));
  CHECK(lists(image["credential_files"], deep));  // a pax long name
  REQUIRE(lists(image["secrets"], "app/.env"));
  CHECK(image["secrets"][0]["layer_digest"] == la.digest());
  CHECK(image["secrets"][0]["findings"][0]["rule_id"] == "aws-access-key-id");
  REQUIRE(lists(image["deleted_secrets"], "root/.ssh/id_rsa"));  // still in the app layer's blob
  CHECK(image["deleted_secrets"][0]["layer_digest"] == la.digest());
  CHECK_FALSE(lists(image["files"], "var/cache/apt/archives/junk.deb"));
  json exe = image["executables"];
  auto server =
      std::find_if(exe.begin(), exe.end(), [](auto& e) { return e["path"] == "app/server"; });
  REQUIRE(server != exe.end());
  CHECK((*server)["elf"]["libc"] == "glibc");
  CHECK((*server)["elf"]["pie"] == true);
  CHECK(image.dump().find(kAwsKey) == std::string::npos);  // secret values never leave masked

  json layer = d.get_json("/v1/layers/" + la.digest());
  CHECK(layer["compression"] == "zstd");
  CHECK(layer.dump().find(kAwsKey) == std::string::npos);
  json files = layer["files"];
  auto link =
      std::find_if(files.begin(), files.end(), [](auto& f) { return f["path"] == "app/server2"; });
  REQUIRE(link != files.end());
  CHECK((*link)["kind"] == "h");
  CHECK((*link)["link"] == "app/server");
  json cl = d.get_json("/v1/layers/" + lc.digest());
  CHECK(cl["compression"] == "none");
  CHECK(cl["whiteouts"].size() == 3);
}

TEST_CASE("an rpm-based image: packages from its rpmdb.sqlite, as rpm wrote it") {
  LocalRegistry reg;
  Daemon d;
  TempDir work;
  std::string rpmdb = build_rpmdb(
      work.path(), {{"bulwark-probe", "1.2.3", "4.el9", ""}, {"probe-two", "0.9", "1", "2"}});
  std::string base = TarBuilder()
                         .file("etc/os-release",
                               "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n"
                               "PRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n")
                         .file("var/lib/rpm/rpmdb.sqlite", rpmdb, 0644)
                         .build();
  TestLayer layer = make_layer(base);
  TestImage im{{layer}};
  im.config = {{"User", "1000"}};
  push_image(reg.host(), "team/rocky", "9", im);
  json s = d.scan(reg.host() + "/team/rocky:9");
  REQUIRE(s["status"] == "done");
  json image = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>());
  CHECK(image["os"]["family"] == "rocky");
  REQUIRE(image["package_count"] == 2);
  std::map<std::string, json> by_name;
  for (auto& p : image["packages"]) by_name[p["name"]] = p;
  REQUIRE(by_name.count("bulwark-probe"));
  CHECK(by_name["bulwark-probe"]["version"] == "1.2.3-4.el9");
  CHECK(by_name["bulwark-probe"]["manager"] == "rpm");
  CHECK(by_name["bulwark-probe"]["layer_digest"] == layer.digest());
  CHECK(by_name["probe-two"]["version"] == "2:0.9-1");
}
