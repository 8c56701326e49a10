#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test run: installs what the tests need,
# builds the sanitizer build, and runs unit, integration and conformance tests with ctest.
# The integration tests start their own registries on loopback; nothing else is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test
bash deploy/build.sh --test
if [[ -z "${BULWARK_CONFORMANCE_DIR:-}" && -d ../shared/conformance ]]; then
  export BULWARK_CONFORMANCE_DIR="$(cd ../shared/conformance && pwd)"
fi
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
cd build-test
rm -f tests/fuzz-summary.txt
status=0
# One test per core: the two integration halves and the rest run side by side.
ctest --output-on-failure --timeout 900 --parallel "$(nproc)" "$@" || status=$?
# What each fuzzer did in its bounded run.
[[ -f tests/fuzz-summary.txt ]] && cat tests/fuzz-summary.txt
exit "$status"
