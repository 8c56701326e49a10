#include "test_images.h"

#include "process.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace bw::test {

using nlohmann::json;

std::string static_elf() {
  // A static-pie: ET_DYN with no interpreter and DF_1_PIE, as `gcc -static-pie` and
  // `go build -buildmode=pie` make them: nothing for the hardening rules to flag.
  std::string e(64 + 3 * 56 + 32, '\0');
  auto put = [&](std::size_t off, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      e[off + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  e.replace(0, 4,
            "\x7f"
            "ELF");
  e[4] = 2;  // 64-bit
  e[5] = 1;  // little-endian
  e[6] = 1;
  put(16, 3, 2);   // ET_DYN
  put(18, 62, 2);  // x86-64
  put(20, 1, 4);
  put(24, 0x401000, 8);
  put(32, 64, 8);               // phoff
  put(52, 64, 2);               // ehsize
  put(54, 56, 2);               // phentsize
  put(56, 3, 2);                // phnum
  put(64, 1, 4);                // PT_LOAD
  put(68, 5, 4);                // R+X
  put(64 + 56, 0x6474e551, 4);  // PT_GNU_STACK
  put(64 + 56 + 4, 6, 4);       // RW, no X
  const std::size_t dyn = 64 + 3 * 56;
  put(64 + 2 * 56, 2, 4);        // PT_DYNAMIC
  put(64 + 2 * 56 + 8, dyn, 8);  // its offset
  put(64 + 2 * 56 + 32, 32, 8);  // its size
  put(dyn, 0x6ffffffb, 8);       // DT_FLAGS_1
  put(dyn + 8, 0x08000000, 8);   // DF_1_PIE
  return e + std::string(4096, '\x90');
}

std::string debian_base(bool ca_certificates, const std::vector<std::string>& tools) {
  TarBuilder tar;
  tar.file("etc/os-release",
           "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n")
      .file("etc/debian_version", "13.1\n")
      .file(
          "var/lib/dpkg/status",
          "Package: libc6\nStatus: install ok installed\nVersion: 2.41-12\nArchitecture: amd64\n\n"
          "Package: dash\nStatus: install ok installed\nVersion: 0.5.12-12\nArchitecture: amd64\n\n"
          "Package: apt\nStatus: install ok installed\nVersion: 3.0.3\nArchitecture: amd64\n")
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
      .file("bin/sh", read_file("/bin/dash"), 0755)
      .file("usr/bin/apt-get", read_file("/bin/true"), 0755)
      .file("usr/bin/passwd", read_file("/bin/true"), 04755);
  if (ca_certificates)
    tar.file("etc/ssl/certs/ca-certificates.crt",
             "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  for (auto& t : tools) tar.file(t, read_file("/bin/true"), 0755);
  return tar.build();
}

json hist(std::initializer_list<std::pair<const char*, bool>> steps) {
  json h = json::array();
  for (auto& [cb, empty] : steps) {
    json e = {{"created", "2026-11-01T00:00:00Z"}, {"created_by", cb}};
    if (empty) e["empty_layer"] = true;
    h.push_back(e);
  }
  return h;
}

void add_installed_package(TarBuilder& tar, const std::string& package) {
  std::string listing;
  REQUIRE(run_command({"dpkg", "-L", package}, listing) == 0);
  std::istringstream lines(listing);
  for (std::string path; std::getline(lines, path);) {
    if (path.empty() || path == "/." || path[0] != '/') continue;
    // The test process runs in the C locale, where libarchive cannot write a non-ASCII name
    // (a few CA certificates' own files; the bundle below holds them all).
    if (std::any_of(path.begin(), path.end(), [](char c) { return c & 0x80; })) continue;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;  // a conffile removed by hand
    const std::string rel = path.substr(1);
    if (S_ISDIR(st.st_mode) || (S_ISLNK(st.st_mode) && rel.find('/') == std::string::npos)) {
      tar.dir(rel, 0755);
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      auto n = readlink(path.c_str(), target, sizeof target);
      REQUIRE(n > 0);
      tar.symlink(rel, std::string(target, static_cast<std::size_t>(n)));
    } else if (S_ISREG(st.st_mode)) {
      tar.file(rel, read_file(path), st.st_mode & 07777);
    }
  }
  // distroless records each package in status.d, one stanza per file.
  std::string stanza;
  REQUIRE(run_command({"dpkg-query", "-s", package}, stanza) == 0);
  tar.file("var/lib/dpkg/status.d/" + package, stanza);
}

void add_tree(TarBuilder& tar, const std::string& from, const std::string& to) {
  tar.dir(to, 0755);
  for (auto& e : std::filesystem::recursive_directory_iterator(from)) {
    std::string rel = to + "/" + std::filesystem::relative(e.path(), from).string();
    if (e.is_symlink())
      tar.symlink(rel, std::filesystem::read_symlink(e.path()).string());
    else if (e.is_directory())
      tar.dir(rel, 0755);
    else if (e.is_regular_file())
      tar.file(rel, read_file(e.path().string()), 0644);
  }
}

}  // namespace bw::test
