// The layer harden writes for the app's closure: what a COPY of those paths out of the old image
// holds, and exactly what the projection scored (closure_facts of the same layers).
#include "harden/closure_layer.h"
#include "layer/layer.h"
#include "score/score.h"

#include "elf_builder.h"
#include "tar_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace bw;
using namespace bw::test;

namespace {

LayerFacts facts_of(const std::string& blob) {
  MemorySource src(blob);
  auto f = analyze_layer(src, {});
  REQUIRE(f);
  return std::move(*f);
}

// path -> content (directories and links: "<d>", "-> target", "=> target")
std::map<std::string, std::string> entries_of(const std::string& tar_gz) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_memory(a, tar_gz.data(), tar_gz.size()) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string v;
    if (archive_entry_hardlink(e))
      v = "=> " + std::string(archive_entry_hardlink(e));
    else if (archive_entry_filetype(e) == AE_IFDIR)
      v = "<d>";
    else if (archive_entry_filetype(e) == AE_IFLNK)
      v = "-> " + std::string(archive_entry_symlink(e));
    else {
      char buf[4096];
      for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof buf)) > 0;)
        v.append(buf, static_cast<std::size_t>(n));
    }
    std::string path = archive_entry_pathname(e);
    if (path.ends_with("/")) path.pop_back();  // how tar writes a directory's name
    out[path] = v;
  }
  archive_read_free(a);
  return out;
}

// The notable files a layer's facts record: path -> (kind, mode).
std::map<std::string, std::pair<char, std::uint32_t>> notable_paths(const LayerFacts& f) {
  std::map<std::string, std::pair<char, std::uint32_t>> out;
  for (auto& e : f.files) out[e.path] = {e.kind, e.mode};
  return out;
}

bool holds(const LayerFacts& f, std::string_view path) {
  return std::binary_search(f.path_hashes.begin(), f.path_hashes.end(), path_hash(path));
}

std::string gunzip(const std::string& blob) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  REQUIRE(archive_read_open_memory(a, blob.data(), blob.size()) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  REQUIRE(archive_read_next_header(a, &e) == ARCHIVE_OK);
  std::string raw;
  char buf[4096];
  for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof buf)) > 0;)
    raw.append(buf, static_cast<std::size_t>(n));
  archive_read_free(a);
  return raw;
}

}  // namespace

TEST_CASE("in_closure: a copied directory and what is under it, a copied file, nothing else") {
  std::vector<std::string> closure = {"/app/", "/opt/tool/", "/usr/local/bin/serve"};
  CHECK(in_closure(closure, "app"));
  CHECK(in_closure(closure, "app/main.py"));
  CHECK(in_closure(closure, "opt/tool/bin/x"));
  CHECK(in_closure(closure, "usr/local/bin/serve"));
  CHECK_FALSE(in_closure(closure, "application/x"));
  CHECK_FALSE(in_closure(closure, "opt/other/x"));
  CHECK_FALSE(in_closure(closure, "usr/local/bin/serve2"));
  CHECK_FALSE(in_closure(closure, "usr/bin/python3"));
  CHECK_FALSE(in_closure({}, "app"));
}

TEST_CASE("the closure layer: the app's paths as the layers stack, and what the projection saw") {
  // Layer 1: apt installs a runtime (not carried) and the app's first files; layer 2 replaces
  // one, deletes another, empties a directory, adds a setuid helper and a hard link.
  std::string lower = gzip(TarBuilder()
                               .dir("usr/bin")
                               .file("usr/bin/python3",
                                     "\x7f"
                                     "ELF runtime",
                                     0755)
                               .dir("app")
                               .file("app/main.py", "print('v1')\n")
                               .file("app/old.py", "gone\n")
                               .dir("app/cache")
                               .file("app/cache/a", "stale\n")
                               .file("app/.env", "DB_PASSWORD=hunter2hunter2\n")
                               .build());
  std::string upper = zstd(TarBuilder()
                               .file("app/main.py", "print('v2')\n")
                               .file("app/.wh.old.py", "")
                               .file("app/cache/.wh..wh..opq", "")
                               .file("app/cache/b", "fresh\n")
                               .file("app/helper", "#!/bin/sh\necho hi\n", 04755)
                               .hardlink("app/helper-link", "app/helper")
                               .symlink("app/current", "/app/main.py")
                               .file("etc/passwd", "root:x:0:0::/root:/bin/bash\n")
                               .build());
  const std::vector<std::string> closure = {"/app/"};
  auto built = build_closure_layer({lower, upper}, closure, 1 << 20);
  REQUIRE(built);
  CHECK(built->digest == sha256(built->blob));
  auto entries = entries_of(built->blob);
  std::string listed;
  for (auto& [k, v] : entries) listed += k + " " + std::to_string(v.size()) + "|";
  CAPTURE(listed);
  // The emptied directory stays (an opaque whiteout hides only what was in it).
  CHECK(entries ==
        std::map<std::string, std::string>{{"app", "<d>"},
                                           {"app/cache", "<d>"},
                                           {"app/main.py", "print('v2')\n"},
                                           {"app/cache/b", "fresh\n"},
                                           {"app/helper", "#!/bin/sh\necho hi\n"},
                                           {"app/helper-link", "=> app/helper"},
                                           {"app/current", "-> /app/main.py"},
                                           {"app/.env", "DB_PASSWORD=hunter2hunter2\n"}});
  CHECK(built->entries == entries.size());
  // Its diff_id is the tar's: what the config names.
  CHECK(built->diff_id == sha256(gunzip(built->blob)));

  // The projection's facts of that layer, from the app layers' facts, are the facts a scan of
  // the built layer records: the same notable files, the same findings to come.
  LayerFacts l = facts_of(lower), u = facts_of(upper);
  LayerFacts projected = closure_facts({&l, &u}, closure, {});
  LayerFacts scanned = facts_of(built->blob);
  auto paths = notable_paths(projected);
  CHECK(paths == notable_paths(scanned));
  CHECK(paths.count("app/helper"));  // setuid: notable
  CHECK(paths.count("app/.env"));    // a secret: notable
  CHECK_FALSE(paths.count("usr/bin/python3"));
  CHECK_FALSE(paths.count("etc/passwd"));
}

TEST_CASE("a library carried by name: its soname's link and its file, as the projection saw") {
  const std::string dir = "lib/x86_64-linux-gnu/";
  std::string apt =
      gzip(TarBuilder()
               .file(dir + "libz.so.1.2.13",
                     build_elf({.type = 3, .dynamic = true, .soname = "libz.so.1"}))
               .symlink(dir + "libz.so.1", "libz.so.1.2.13")
               .file(dir + "libother.so.2",
                     build_elf({.type = 3, .dynamic = true, .soname = "libother.so.2"}))
               .build());
  std::string app = gzip(TarBuilder()
                             .file("app/z",
                                   build_elf({.type = 3,
                                              .interp = "/lib64/ld-linux-x86-64.so.2",
                                              .dynamic = true,
                                              .needed = {"libz.so.1"}}),
                                   0755)
                             .build());
  const std::vector<std::string> closure = {"/app/", "/" + dir + "libz.so.1",
                                            "/" + dir + "libz.so.1.2.13"};
  auto built = build_closure_layer({apt, app}, closure, 1 << 20);
  REQUIRE(built);
  auto entries = entries_of(built->blob);
  CHECK(entries[dir + "libz.so.1"] == "-> libz.so.1.2.13");
  CHECK(entries.count(dir + "libz.so.1.2.13"));
  CHECK_FALSE(entries.count(dir + "libother.so.2"));

  LayerFacts a = facts_of(apt), p = facts_of(app);
  LayerFacts projected = closure_facts({&a, &p}, closure, {});
  LayerFacts scanned = facts_of(built->blob);
  CHECK(notable_paths(projected) == notable_paths(scanned));
  CHECK(notable_paths(projected).count(dir + "libz.so.1.2.13"));  // a shared object: ELF facts
  // The link is no notable file, yet the layer holds it: so does the projection.
  CHECK(holds(scanned, dir + "libz.so.1"));
  CHECK(holds(projected, dir + "libz.so.1"));
  CHECK_FALSE(holds(projected, dir + "libother.so.2"));
}

TEST_CASE("the closure layer refuses what it cannot read and what is too large") {
  auto bad = build_closure_layer({"not a tar at all, not even close"}, {"/app/"}, 1 << 20);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_image);
  std::string big = gzip(TarBuilder().file("app/blob", std::string(64 * 1024, 'x')).build());
  auto over = build_closure_layer({big}, {"/app/"}, 16 * 1024);
  REQUIRE_FALSE(over);
  CHECK(over.error().code == Errc::conflict);
  CHECK(over.error().message.find("larger than") != std::string::npos);
}
