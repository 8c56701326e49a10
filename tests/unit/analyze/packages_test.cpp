#include "analyze/packages.h"

#include "process.h"
#include "rpmdb.h"

#include <doctest/doctest.h>

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
  test::TempDir dir;
  auto pkgs = parse_rpm_sqlite(test::build_rpmdb(
      dir.path(), {{"bulwark-probe", "1.2.3", "4.el9", ""}, {"probe-two", "0.9", "1", "2"}}));
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
