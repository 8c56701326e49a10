#!/usr/bin/env bash
# What the stores' layer cache keeps per layer, on this machine:
#   bash bench/cache_bench.sh
# Two layers made from this machine's files: 40 MB of shared libraries (the replicas bench's
# base) and /usr/bin, /usr/sbin and /etc. Each is analysed, its stored facts parsed 100 times,
# and the resident memory a parsed record takes is printed against its stored size: the multiple
# the cache weighs records by (server/store/detail/layer_cache.h). Release build; never part of
# the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh >/dev/null
bash deploy/build.sh >/dev/null
cmake --build build --target layer_memory >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -printf '%s %p\n' | sort -n |
  awk '{t+=$1; if (t>40e6) exit; print $2}') >"$work/list"
tar --numeric-owner -cf "$work/libraries.tar" -T "$work/list" 2>/dev/null
tar --numeric-owner -cf "$work/system.tar" /usr/bin /usr/sbin /etc 2>/dev/null || true
./build/bench/layer_memory "$work/libraries.tar" "$work/system.tar"
