// Package databases: dpkg status and status.d, apk installed, rpmdb.sqlite (BerkeleyDB and NDB
// rpm databases are recorded as present, not parsed).
#include "analyze/analyze.h"
#include "analyze/detail/builtin.h"
#include "analyze/packages.h"

namespace bw::detail {
namespace {

class PackagesAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "packages"; }
  int version() const override { return 1; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions& o) const override {
    return e.kind == 'f' && !package_db_kind(e.path).empty() ? o.max_package_db_bytes : 0;
  }
  void analyze(const EntryView& e, std::string_view head, bool truncated, const AnalyzeOptions&,
               FileInfo& out) const override {
    PackageDb& db = out.package_db.emplace(PackageDb{package_db_kind(e.path), false, ""});
    if (truncated) {
      db.reason = "larger than max_package_db_bytes";
    } else if (db.kind == "dpkg" || db.kind == "apk") {
      out.packages = db.kind == "dpkg" ? parse_dpkg_status(head) : parse_apk_installed(head);
      db.parsed = true;
    } else if (db.kind == "rpm-sqlite") {
      auto rpms = parse_rpm_sqlite(head);
      if (rpms) {
        out.packages = std::move(*rpms);
        db.parsed = true;
      } else {
        db.reason = rpms.error().message;
      }
    } else {
      db.reason = "format not parsed";
    }
  }
};

}  // namespace

const Analyzer& packages_analyzer() {
  static const PackagesAnalyzer a;
  return a;
}

}  // namespace bw::detail
