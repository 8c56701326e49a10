#!/usr/bin/env bash
# Configures and builds Bulwark with clang 14 (see CMakeLists.txt for why not GCC 12).
#   deploy/build.sh           release build in build/
#   deploy/build.sh --test    the one AddressSanitizer + UndefinedBehaviorSanitizer build, with
#                             tests, in build-test/
set -euo pipefail
cd "$(dirname "$0")/.."
export CXX=clang++-14 CC=clang-14
jobs=$(nproc)
if [[ "${1:-}" == "--test" ]]; then
  # Line tables are all the sanitizers' reports need (file:line in every frame); full debug
  # info of Asio and Beast templates costs the build a sixth of its time.
  cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBULWARK_SANITIZE=ON -DBULWARK_TESTS=ON \
    -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only >/dev/null
  cmake --build build-test -j "$jobs"
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
  cmake --build build -j "$jobs"
fi
