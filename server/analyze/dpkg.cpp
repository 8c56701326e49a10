#include "analyze/packages.h"

#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace bw {
namespace {}  // namespace

bool valid_deb_version(std::string_view v) {
  if (v.empty()) return false;
  std::string_view rest = v;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view epoch = rest.substr(0, colon);
    if (epoch.empty() || !std::all_of(epoch.begin(), epoch.end(), ::isdigit)) return false;
    rest = rest.substr(colon + 1);
  }
  std::string_view upstream = rest, revision;
  if (auto dash = rest.rfind('-'); dash != std::string_view::npos) {
    upstream = rest.substr(0, dash);
    revision = rest.substr(dash + 1);
    if (revision.empty()) return false;
    for (char c : revision)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '~' &&
          c != '_')
        return false;
  }
  if (upstream.empty() || !std::isdigit(static_cast<unsigned char>(upstream.front()))) return false;
  for (char c : upstream)
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view(".+~-_:").find(c) == std::string_view::npos)
      return false;
  return true;
}

std::vector<Package> parse_dpkg_status(std::string_view content) {
  std::vector<Package> out;
  std::istringstream in{std::string(content)};
  std::map<std::string, std::string> f;
  std::string last_key;
  auto flush = [&] {
    if (!f.empty()) {
      const std::string& status = f["Status"];
      bool removed = status.find("deinstall") != std::string::npos ||
                     status.find("purge") != std::string::npos;
      // distroless status.d stanzas carry no Status at all: installed.
      Package p;
      p.manager = "dpkg";
      p.name = f["Package"];
      p.version = f["Version"];
      p.arch = f["Architecture"];
      p.maintainer = f["Maintainer"];
      std::string source = f["Source"];
      p.source_name = p.name;
      p.source_version = p.version;
      if (!source.empty()) {
        // "Source: name (version)" when the source version differs.
        auto paren = source.find('(');
        p.source_name = trim(source.substr(0, paren));
        if (paren != std::string::npos) {
          auto close = source.find(')', paren);
          p.source_version = trim(source.substr(
              paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1));
        }
      }
      if (!removed && !p.name.empty() && valid_deb_version(p.version)) out.push_back(std::move(p));
    }
    f.clear();
    last_key.clear();
  };
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      flush();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // continuation of the previous field
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    last_key = line.substr(0, colon);
    f[last_key] = trim(line.substr(colon + 1), " \t\r");
  }
  flush();
  return out;
}

std::vector<Package> parse_apk_installed(std::string_view content) {
  std::vector<Package> out;
  std::istringstream in{std::string(content)};
  Package cur;
  auto flush = [&] {
    if (!cur.name.empty() && !cur.version.empty() &&
        std::none_of(out.begin(), out.end(), [&](auto& p) { return p.name == cur.name; })) {
      cur.manager = "apk";
      if (cur.source_name.empty()) cur.source_name = cur.name;
      cur.source_version = cur.version;
      out.push_back(cur);
    }
    cur = Package{};
  };
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 2) {
      flush();
      continue;
    }
    if (line[1] != ':') continue;
    std::string value = line.substr(2);
    switch (line[0]) {
      case 'P':
        cur.name = value;
        break;
      case 'V':
        cur.version = value;
        break;
      case 'o':
        cur.source_name = value;
        break;
      case 'A':
        cur.arch = value;
        break;
      case 'm':
        cur.maintainer = value;
        break;
      default:
        break;
    }
  }
  flush();
  return out;
}

std::string package_db_kind(std::string_view p) {
  if (p == "var/lib/dpkg/status") return "dpkg";
  if (p.starts_with("var/lib/dpkg/status.d/") && p.find('/', 22) == std::string_view::npos &&
      !p.ends_with(".md5sums") && !p.ends_with(".preinst") && !p.ends_with(".postinst") &&
      !p.ends_with(".list"))
    return "dpkg";
  if (p == "lib/apk/db/installed" || p == "usr/lib/apk/db/installed") return "apk";
  for (auto dir : {"var/lib/rpm/", "usr/lib/sysimage/rpm/", "usr/share/rpm/"}) {
    if (!p.starts_with(dir)) continue;
    std::string_view base = p.substr(std::string_view(dir).size());
    if (base == "rpmdb.sqlite") return "rpm-sqlite";
    if (base == "Packages") return "rpm-bdb";
    if (base == "Packages.db") return "rpm-ndb";
  }
  return {};
}

nlohmann::json to_json(const Package& p) {
  nlohmann::json j = {{"manager", p.manager}, {"name", p.name}, {"version", p.version}};
  if (p.source_name != p.name) j["source_name"] = p.source_name;
  if (p.source_version != p.version) j["source_version"] = p.source_version;
  if (!p.arch.empty()) j["arch"] = p.arch;
  if (!p.maintainer.empty()) j["maintainer"] = p.maintainer;
  return j;
}

Package package_from_json(const nlohmann::json& j) {
  Package p;
  p.manager = j.value("manager", "");
  p.name = j.value("name", "");
  p.version = j.value("version", "");
  p.source_name = j.value("source_name", p.name);
  p.source_version = j.value("source_version", p.version);
  p.arch = j.value("arch", "");
  p.maintainer = j.value("maintainer", "");
  return p;
}

}  // namespace bw
