// rpm databases written by Debian's rpm: packages built with rpmbuild from specs the helper
// writes, recorded with `rpm --justdb` into a database of their own. The headers are rpm's own,
// not a hand-made imitation of them.
#pragma once

#include <string>
#include <vector>

namespace bw::test {

struct RpmSpec {
  std::string name, version, release, epoch;  // epoch empty: none
  std::string vendor = "Bulwark Tests";
};

// The bytes of an rpmdb.sqlite holding `packages`; built under `work` (a directory). REQUIREs
// that rpmbuild and rpm succeed.
std::string build_rpmdb(const std::string& work, const std::vector<RpmSpec>& packages);

}  // namespace bw::test
