#include "rpmdb.h"

#include "process.h"

#include <doctest/doctest.h>

#include <filesystem>

namespace bw::test {

std::string build_rpmdb(const std::string& work, const std::vector<RpmSpec>& packages) {
  const std::string top = work + "/rpmbuild", db = work + "/db";
  std::string out;
  for (auto& p : packages) {
    std::string spec = work + "/" + p.name + ".spec";
    write_file(spec, "Name: " + p.name + "\nVersion: " + p.version + "\nRelease: " + p.release +
                         "\n" + (p.epoch.empty() ? "" : "Epoch: " + p.epoch + "\n") +
                         "Summary: probe\nLicense: MIT\nBuildArch: noarch\nVendor: " + p.vendor +
                         "\n%description\nprobe\n%install\nmkdir -p %{buildroot}/usr/share/" +
                         p.name + "\necho hi > %{buildroot}/usr/share/" + p.name +
                         "/readme\n%files\n/usr/share/" + p.name + "/readme\n");
    REQUIRE_MESSAGE(run_command({"rpmbuild", "--quiet", "--define", "_topdir " + top, "-bb", spec},
                                out, std::chrono::seconds(120)) == 0,
                    out);
  }
  REQUIRE_MESSAGE(run_command({"rpm", "--dbpath", db, "--initdb"}, out) == 0, out);
  for (auto& rpm : std::filesystem::recursive_directory_iterator(top + "/RPMS"))
    if (rpm.path().extension() == ".rpm")
      REQUIRE_MESSAGE(run_command({"rpm", "--dbpath", db, "-i", "--justdb", "--nodeps",
                                   "--nosignature", rpm.path().string()},
                                  out) == 0,
                      out);
  REQUIRE(std::filesystem::exists(db + "/rpmdb.sqlite"));
  return read_file(db + "/rpmdb.sqlite");
}

}  // namespace bw::test
