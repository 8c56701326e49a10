#include "analyze/os_release.h"

#include <doctest/doctest.h>

using namespace bw;
using nlohmann::json;

namespace {
std::optional<OsInfo> parse(std::string_view path, std::string_view content) {
  std::string err;
  return parse_os_release_file(path, content, err);
}
}  // namespace

TEST_CASE("os-release families and versions") {
  auto wolfi = parse("etc/os-release",
                     "ID=wolfi\nNAME=\"Wolfi\"\nVERSION_ID=20230201\nPRETTY_NAME=\"Wolfi\"\n");
  REQUIRE(wolfi);
  CHECK(wolfi->family == "wolfi");
  CHECK(parse("usr/lib/os-release", "ID=\"rhel\"\nVERSION_ID='9.4'\n")->family == "redhat");
  CHECK(parse("etc/os-release", "ID=centos\nNAME=\"CentOS Stream\"\nVERSION_ID=\"8\"\n")->family ==
        "centos-stream");
  CHECK_FALSE(parse("etc/os-release", "ID=plan9\nVERSION_ID=4\n"));
  CHECK_FALSE(parse("etc/os-release", "ID=alpine\n"));
}

TEST_CASE("Debian, Ubuntu and distroless come from their own files; os-release is a fallback") {
  std::string err;
  auto deb = parse("etc/debian_version", "12.5\n");
  auto rel = parse("etc/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n");
  REQUIRE(deb);
  REQUIRE(rel);
  // A layer's facts say so in words, never with a marker in the family (served by
  // GET /v1/layers/{digest}); facts stored with the old "debian?" read the same.
  CHECK(rel->family == "debian");
  CHECK(rel->fallback);
  CHECK(to_json(*rel) == json{{"family", "debian"},
                              {"name", "12"},
                              {"pretty_name", "Distroless"},
                              {"identified_by", "os-release"}});
  CHECK(os_info_from_json(to_json(*rel)) == *rel);
  CHECK(os_info_from_json(
            json{{"family", "debian?"}, {"name", "12"}, {"pretty_name", "Distroless"}}) == *rel);
  CHECK_FALSE(to_json(*deb).contains("identified_by"));
  auto merged = merge_os({*rel, *deb});
  REQUIRE(merged);
  CHECK(merged->family == "debian");
  CHECK(merged->name == "12.5");
  CHECK(merged->pretty == "Distroless");
  auto only_release = merge_os({*rel});
  CHECK(only_release->family == "debian");
  CHECK(only_release->name == "12");
  auto ubuntu = merge_os({*parse("etc/debian_version", "bookworm/sid"),
                          *parse("etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\n")});
  CHECK(ubuntu->family == "ubuntu");
  CHECK(ubuntu->name == "24.04");
  CHECK_FALSE(parse_os_release_file("etc/debian_version", "", err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("redhat-release style files and the centos-release name trap") {
  CHECK(parse("etc/centos-release", "CentOS Linux release 7.6.1810 (Core)")->family == "centos");
  CHECK(
      parse("etc/redhat-release", "Red Hat Enterprise Linux Server release 6.2 (Santiago)")->name ==
      "6.2");
  CHECK(parse("etc/system-release", "Amazon Linux release 2 (Karoo)")->name == "2 (Karoo)");
  CHECK(is_os_release_path("etc/alpine-release"));
  CHECK_FALSE(is_os_release_path("opt/etc/os-release"));
}
