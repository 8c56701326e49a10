#include "analyze/packages.h"

#include "process.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>

using namespace bw;

TEST_CASE(
    "dpkg status: removed, version-less and invalid stanzas are left out; Source carries its "
    "version") {
  auto pkgs = parse_dpkg_status(
      "Package: bsdutils\nStatus: install ok installed\nVersion: 1:2.38.1-5+b1\nSource: util-linux "
      "(2.38.1-5)\nArchitecture: amd64\n"
      "Description: stuff\n continued line: not a field\n\n"
      "Package: git\nStatus: deinstall ok config-files\nVersion: 1:2.39.2-1.1\n\n"
      "Package: broken\nStatus: install ok installed\nVersion: 1:5.#\n\n"
      "Package: noversion\nStatus: install ok installed\n\n"
      "Package: libc6\nVersion: 2.36-9+deb12u4\nSource: glibc\nArchitecture: amd64\n");
  REQUIRE(pkgs.size() == 2);
  CHECK(pkgs[0].name == "bsdutils");
  CHECK(pkgs[0].version == "1:2.38.1-5+b1");
  CHECK(pkgs[0].source_name == "util-linux");
  CHECK(pkgs[0].source_version == "2.38.1-5");
  CHECK(pkgs[1].name == "libc6");  // no Status line, as in distroless status.d: installed
  CHECK(pkgs[1].source_name == "glibc");
  CHECK(pkgs[1].source_version == "2.36-9+deb12u4");
}

TEST_CASE("deb versions") {
  CHECK(valid_deb_version("1.0"));
  CHECK(valid_deb_version("2:1.2.3~rc1-0ubuntu1"));
  CHECK_FALSE(valid_deb_version("1:5.#"));
  CHECK_FALSE(valid_deb_version("a1.0"));
  CHECK_FALSE(valid_deb_version("1.0-"));
  CHECK_FALSE(valid_deb_version(""));
}

TEST_CASE("apk installed: first of a name wins, origin is the source") {
  auto pkgs = parse_apk_installed(
      "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:musl\nV:9."
      "9\n\nP:noversion\n");
  REQUIRE(pkgs.size() == 2);
  CHECK(pkgs[0].version == "1.2.4-r2");
  CHECK(pkgs[1].source_name == "openssl");
  CHECK(pkgs[1].manager == "apk");
}

TEST_CASE("package database paths") {
  CHECK(package_db_kind("var/lib/dpkg/status") == "dpkg");
  CHECK(package_db_kind("var/lib/dpkg/status.d/libc6") == "dpkg");
  CHECK(package_db_kind("var/lib/dpkg/status.d/libc6.md5sums").empty());
  CHECK(package_db_kind("lib/apk/db/installed") == "apk");
  CHECK(package_db_kind("var/lib/rpm/rpmdb.sqlite") == "rpm-sqlite");
  CHECK(package_db_kind("usr/lib/sysimage/rpm/Packages.db") == "rpm-ndb");
  CHECK(package_db_kind("var/lib/rpm/Packages") == "rpm-bdb");
}

TEST_CASE("a hostile rpmdb.sqlite is an error, not a crash") {
  CHECK_FALSE(parse_rpm_sqlite("not a database at all"));
  CHECK_FALSE(parse_rpm_sqlite(""));
}

TEST_CASE("rpmdb.sqlite with real headers, written by Debian's rpm: name, version, arch, source") {
  // Two packages built with rpmbuild and recorded with rpm --justdb into a database of their
  // own: the headers are rpm's own format, not a hand-made imitation.
  test::TempDir dir;
  const std::string top = dir.path() + "/rpmbuild", db = dir.path() + "/db";
  auto spec = [&](const std::string& name, const std::string& version, const std::string& release,
                  const std::string& epoch) {
    std::string path = dir.path() + "/" + name + ".spec";
    test::write_file(path, "Name: " + name + "\nVersion: " + version + "\nRelease: " + release +
                               "\n" + (epoch.empty() ? "" : "Epoch: " + epoch + "\n") +
                               "Summary: probe\nLicense: MIT\nBuildArch: noarch\n"
                               "Vendor: Bulwark Tests\n"
                               "%description\nprobe\n%install\nmkdir -p %{buildroot}/usr/share/" +
                               name + "\necho hi > %{buildroot}/usr/share/" + name +
                               "/readme\n%files\n/usr/share/" + name + "/readme\n");
    return path;
  };
  std::string out;
  for (auto& s : {spec("bulwark-probe", "1.2.3", "4.el9", ""), spec("probe-two", "0.9", "1", "2")})
    REQUIRE_MESSAGE(
        test::run_command({"rpmbuild", "--quiet", "--define", "_topdir " + top, "-bb", s}, out,
                          std::chrono::seconds(120)) == 0,
        out);
  REQUIRE(test::run_command({"rpm", "--dbpath", db, "--initdb"}, out) == 0);
  for (auto& rpm : std::filesystem::recursive_directory_iterator(top + "/RPMS"))
    if (rpm.path().extension() == ".rpm")
      REQUIRE_MESSAGE(test::run_command({"rpm", "--dbpath", db, "-i", "--justdb", "--nodeps",
                                         "--nosignature", rpm.path().string()},
                                        out) == 0,
                      out);
  REQUIRE(std::filesystem::exists(db + "/rpmdb.sqlite"));

  auto pkgs = parse_rpm_sqlite(test::read_file(db + "/rpmdb.sqlite"));
  REQUIRE(pkgs);
  REQUIRE(pkgs->size() == 2);
  std::map<std::string, Package> by_name;
  for (auto& p : *pkgs) by_name[p.name] = p;
  REQUIRE(by_name.count("bulwark-probe"));
  auto& probe = by_name["bulwark-probe"];
  CHECK(probe.manager == "rpm");
  CHECK(probe.version == "1.2.3-4.el9");
  CHECK(probe.arch == "noarch");
  CHECK(probe.source_name == "bulwark-probe");
  CHECK(probe.source_version == "1.2.3-4.el9");  // from the SOURCERPM tag
  CHECK(probe.maintainer == "Bulwark Tests");    // the vendor, as Trivy reports it
  REQUIRE(by_name.count("probe-two"));
  CHECK(by_name["probe-two"].version == "2:0.9-1");  // the epoch, as Trivy writes it
  CHECK(by_name["probe-two"].source_version == "2:0.9-1");
}
