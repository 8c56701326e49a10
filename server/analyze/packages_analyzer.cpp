// Package databases: dpkg status and status.d, apk installed, rpmdb.sqlite (BerkeleyDB and NDB
// rpm databases are recorded as present, not parsed).
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "analyze/packages.h"

namespace bw::detail {
namespace {

using nlohmann::json;

class PackagesAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "packages"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && !package_db_kind(e.path).empty() ? o.max_package_db_bytes : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool truncated, const AnalyzeOptions&,
               json& out) const override {
    std::string db = package_db_kind(e.path);
    json pk = json::array();
    if (truncated) {
      out["package_db"] = {
          {"kind", db}, {"parsed", false}, {"reason", "larger than max_package_db_bytes"}};
    } else if (db == "dpkg" || db == "apk") {
      for (auto& p : db == "dpkg" ? parse_dpkg_status(head) : parse_apk_installed(head))
        pk.push_back(to_json(p));
      out["package_db"] = {{"kind", db}, {"parsed", true}};
      out["packages"] = std::move(pk);
    } else if (db == "rpm-sqlite") {
      auto rpms = parse_rpm_sqlite(head);
      if (rpms) {
        for (auto& p : *rpms) pk.push_back(to_json(p));
        out["package_db"] = {{"kind", db}, {"parsed", true}};
        out["packages"] = std::move(pk);
      } else {
        out["package_db"] = {{"kind", db}, {"parsed", false}, {"reason", rpms.error().message}};
      }
    } else {
      out["package_db"] = {{"kind", db}, {"parsed", false}, {"reason", "format not parsed"}};
    }
  }
};

}  // namespace

const Analyzer& packages_analyzer() {
  static const PackagesAnalyzer a;
  return a;
}

}  // namespace bw::detail
