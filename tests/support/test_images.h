// Images the report and advice tests build: a tiny static executable, a Debian-like base, and
// history entries.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace bw::test {

// A minimal statically linked x86-64 executable: ELF header, one PT_LOAD, a non-executable
// stack, no interpreter. Enough for the analysers, which read headers only.
std::string static_elf();

// A Debian-like root filesystem: os-release, a dpkg status of three packages, root in passwd,
// dash as /bin/sh, apt-get, a setuid passwd, CA certificates unless told otherwise, and any
// `tools` (paths such as "usr/bin/wget", each a copy of /bin/true).
std::string debian_base(bool ca_certificates = true, const std::vector<std::string>& tools = {});

class TarBuilder;

// The files an installed Debian package put on this machine, as a layer adds them: its
// directories (a merged-/usr link such as /bin taken as the directory the package ships),
// files with their modes, and symlinks; and its dpkg stanza in var/lib/dpkg/status.d, as
// distroless records each package.
void add_installed_package(TarBuilder& tar, const std::string& package);

// A directory of this machine copied into the layer at `to` (relative, no leading "/").
void add_tree(TarBuilder& tar, const std::string& from, const std::string& to);

// config.history entries: (created_by, empty_layer).
nlohmann::json hist(std::initializer_list<std::pair<const char*, bool>> steps);

}  // namespace bw::test
