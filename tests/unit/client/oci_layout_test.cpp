// Where `bulwark harden --output` writes the image the daemon streams back: only an image
// layout's names land, each blob as its name says, and nothing is left of an archive that was
// cut short or refused.
#include "oci_layout.h"

#include "common/digest.h"
#include "process.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <filesystem>

using namespace bw;
using namespace bw::test;
namespace fs = std::filesystem;

namespace {

const std::string kManifest = R"({"schemaVersion":2})";

std::string blob_name(const std::string& body) {
  return "blobs/sha256/" + sha256_digest(body).substr(7);
}

TarBuilder layout() {
  return TarBuilder()
      .file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
      .file("index.json", R"({"schemaVersion":2,"manifests":[]})")
      .file(blob_name(kManifest), kManifest);
}

// Writes `tar` in pieces, as it arrives from the daemon.
Result<std::string> receive(const std::string& where, const std::string& tar) {
  auto o = cli::OciOutput::open(where);
  if (!o) return o.error();
  for (std::size_t at = 0; at < tar.size(); at += 1000)
    REQUIRE(o->write(std::string_view(tar).substr(at, 1000)));
  return o->finish();
}

}  // namespace

TEST_CASE("an OCI layout lands in a new directory or as one archive file") {
  TempDir here;
  const std::string dir = here.path() + "/out";
  auto r = receive("oci:" + dir, layout().build());
  REQUIRE(r);
  CHECK(*r == "oci:" + dir);
  CHECK(read_file(dir + "/" + blob_name(kManifest)) == kManifest);
  CHECK(fs::exists(dir + "/index.json"));
  CHECK_FALSE(fs::exists(dir + ".partial.tar"));

  const std::string file = here.path() + "/image.tar";
  auto a = receive("oci-archive:" + file, layout().build());
  REQUIRE(a);
  CHECK(*a == "oci-archive:" + file);
  CHECK(read_file(file) == layout().build());
  CHECK_FALSE(fs::exists(file + ".partial"));

  // A directory with files in it is not written over; other outputs are not ours.
  CHECK(cli::OciOutput::open("oci:" + dir).error().code == Errc::bad_request);
  CHECK(cli::OciOutput::open("docker-archive:" + file).error().code == Errc::bad_request);
  CHECK(cli::OciOutput::open("oci:").error().code == Errc::bad_request);
}

TEST_CASE("an archive that is not a whole image layout leaves nothing behind") {
  TempDir here;
  const std::string dir = here.path() + "/out";
  auto refused = [&](const std::string& tar, Errc code) {
    auto r = receive("oci:" + dir, tar);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == code);
    CHECK_FALSE(fs::exists(dir));
    CHECK_FALSE(fs::exists(dir + ".partial.tar"));
  };
  // Names outside the layout, a link, a path that climbs out.
  refused(layout().file("../escaped", "x").build(), Errc::invalid_image);
  CHECK_FALSE(fs::exists(here.path() + "/escaped"));
  refused(layout().file("blobs/sha256/../../../escaped", "x").build(), Errc::invalid_image);
  refused(layout().symlink("blobs/sha256/" + std::string(64, 'a'), "/etc/passwd").build(),
          Errc::invalid_image);
  // A blob whose bytes are not what its name says.
  refused(layout().file("blobs/sha256/" + std::string(64, 'b'), "not that").build(),
          Errc::digest_mismatch);
  // No index.
  refused(TarBuilder().file("oci-layout", "{}").build(), Errc::invalid_image);
  // Cut short in the middle of a blob.
  std::string whole =
      layout().file(blob_name(std::string(5000, 'z')), std::string(5000, 'z')).build();
  refused(whole.substr(0, whole.size() - 4000), Errc::invalid_image);

  // An output dropped before it finished (the transfer failed) removes what it received.
  {
    auto o = cli::OciOutput::open("oci-archive:" + here.path() + "/cut.tar");
    REQUIRE(o);
    CHECK(o->write("some bytes"));
  }
  CHECK(fs::is_empty(here.path()));
}
