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

// config.history entries: (created_by, empty_layer).
nlohmann::json hist(std::initializer_list<std::pair<const char*, bool>> steps);

}  // namespace bw::test
