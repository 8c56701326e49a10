// OS package databases: dpkg status (and distroless status.d files), apk installed, rpm.
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct Package {
  std::string manager;  // "dpkg" | "apk" | "rpm"
  std::string name;
  std::string version;         // full version as the manager writes it ("1:2.31.1-0.4ubuntu3.1")
  std::string source_name;     // the source package, or name
  std::string source_version;  // the source version, or version
  std::string arch;
  std::string maintainer;
};

// Which database a path is, or empty: "dpkg", "apk", "rpm-sqlite", "rpm-bdb", "rpm-ndb".
std::string package_db_kind(std::string_view path);

// dpkg status or a status.d file: RFC 822 stanzas; stanzas whose Status says deinstall or purge,
// or without Package or Version, or with an invalid version, are left out (as Trivy does).
std::vector<Package> parse_dpkg_status(std::string_view content);

// apk's lib/apk/db/installed; the first stanza of a name wins, stanzas without V: are left out.
std::vector<Package> parse_apk_installed(std::string_view content);

// rpm's sqlite database (rpmdb.sqlite): headers read from the Packages table.
Result<std::vector<Package>> parse_rpm_sqlite(std::string_view bytes);

// A valid Debian version: [epoch:]upstream[-revision].
bool valid_deb_version(std::string_view v);

nlohmann::json to_json(const Package& p);
Package package_from_json(const nlohmann::json& j);

}  // namespace bw
