#!/usr/bin/env bash
# Line and branch coverage of server/ and client/ by the whole suite, per module, with clang's
# source-based coverage: a build of its own in build-cov/ (not the sanitizer build, and not part
# of .ci/run), every test run with profiles written per process (the daemons and CLIs the
# integration tests start included), then one table.
#
#   bash tests/coverage.sh            # prints the table; details in build-cov/coverage/
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test
export CXX=clang++-14 CC=clang-14
cmake -S . -B build-cov -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBULWARK_COVERAGE=ON \
  -DBULWARK_TESTS=ON >/dev/null
cmake --build build-cov -j "$(nproc)"
rm -rf build-cov/profiles build-cov/coverage
mkdir -p build-cov/profiles build-cov/coverage
if [[ -z "${BULWARK_CONFORMANCE_DIR:-}" && -d ../shared/conformance ]]; then
  export BULWARK_CONFORMANCE_DIR="$(cd ../shared/conformance && pwd)"
fi
# %p: one file per process; %m: per binary, so the daemon and the test runner never clash.
export LLVM_PROFILE_FILE="$PWD/build-cov/profiles/%p-%m.profraw"
status=0
(cd build-cov && ctest --output-on-failure --timeout 900) || status=$?
llvm-profdata-14 merge -sparse build-cov/profiles/*.profraw -o build-cov/coverage/all.profdata
objects=(build-cov/server/bulwarkd -object build-cov/client/bulwark
         -object build-cov/tests/unit_tests -object build-cov/tests/integration_tests
         -object build-cov/tests/conformance)
llvm-cov-14 export -summary-only -instr-profile=build-cov/coverage/all.profdata "${objects[@]}" \
  -ignore-filename-regex='(^/usr/|/tests/|/build-cov/)' >build-cov/coverage/summary.json
llvm-cov-14 report -instr-profile=build-cov/coverage/all.profdata "${objects[@]}" \
  -ignore-filename-regex='(^/usr/|/tests/|/build-cov/)' >build-cov/coverage/files.txt
python3 - "$PWD" <<'PY'
import json, sys, collections
root = sys.argv[1].rstrip("/") + "/"
data = json.load(open("build-cov/coverage/summary.json"))["data"][0]["files"]
mods = collections.OrderedDict()
def add(mod, s):
    m = mods.setdefault(mod, [0, 0, 0, 0])
    m[0] += s["lines"]["covered"]; m[1] += s["lines"]["count"]
    m[2] += s["branches"]["covered"]; m[3] += s["branches"]["count"]
for f in sorted(data, key=lambda f: f["filename"]):
    name = f["filename"].removeprefix(root)
    parts = name.split("/")
    mod = parts[0] if parts[0] == "client" else "/".join(parts[:2])
    add(mod, f["summary"]); add("total", f["summary"])
print("| module | lines | branches |")
print("|---|---|---|")
for mod, (lc, ln, bc, bn) in mods.items():
    if mod == "total": continue
    print(f"| `{mod}` | {100*lc/max(ln,1):.1f}% of {ln} | {100*bc/max(bn,1):.1f}% of {bn} |")
lc, ln, bc, bn = mods["total"]
print(f"| **total** | **{100*lc/max(ln,1):.1f}%** of {ln} | **{100*bc/max(bn,1):.1f}%** of {bn} |")
PY
exit "$status"
