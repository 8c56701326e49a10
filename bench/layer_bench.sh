#!/usr/bin/env bash
# Layer analysis speed and memory against the plain pipeline on the same blob, in one run.
#
#   bash bench/layer_bench.sh [SOURCE_DIR] [MAX_MB]
#   bash bench/layer_bench.sh entries:N       (N empty files under etc/: the hostile-layer case)
#
# Builds a gzip layer from SOURCE_DIR (default /usr/lib/x86_64-linux-gnu, cut at MAX_MB of
# input, default 600), pushes it to a docker-registry on loopback, then times on that blob:
#   baseline A: curl BLOB | gzip -dc | tar -t
#   baseline B: curl BLOB | igzip -dc | tar -t
#   bulwark:    a scan through bulwarkd (fetch, sha256, inflate, tar walk, every analyser, store)
# and reports ratios and bulwarkd's peak RSS (VmHWM). Release build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr/lib/x86_64-linux-gnu}
max_mb=${2:-600}
bash deploy/install-deps.sh --demo
command -v igzip >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q isal >/dev/null; }
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid= bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
source bench/registry.sh

if [[ "$src" == entries:* ]]; then
  # N empty files under etc/: every one notable, the layer tiny once compressed.
  mkdir -p "$work/root/etc"
  (cd "$work/root/etc" && seq -f 'f%.0f' 1 "${src#entries:}" | xargs touch)
  tar --numeric-owner -C "$work/root" -cf "$work/layer.tar" etc
else
  # The layer: files of SOURCE_DIR up to MAX_MB.
  (find "$src" -type f -printf '%s %p\n' 2>/dev/null || true) | awk -v max=$((max_mb * 1024 * 1024)) '{t+=$1; if (t>max) exit; print substr($0, index($0,$2))}' >"$work/list"
  tar --numeric-owner -cf "$work/layer.tar" -T "$work/list" 2>/dev/null
fi
push_layer_image "$work/layer.tar" "{}" bench/layer:1
url="http://127.0.0.1:$port/v2/bench/layer/blobs/sha256:$digest"

now() { date +%s.%N; }
t0=$(now); curl -fs "$url" | gzip -dc | tar -t >/dev/null; t1=$(now)
curl -fs "$url" | igzip -dc | tar -t >/dev/null; t2=$(now)

./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" & bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")
t3=$(now)
curl -fs -X POST "$api/v1/scans" -d "{\"image\":\"127.0.0.1:$port/bench/layer:1\",\"wait\":600}" >"$work/scan.json"
t4=$(now)
grep -q '"status":"done"' "$work/scan.json" || { echo "scan failed: $(cat "$work/scan.json")"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' /proc/$bw_pid/status)

python3 - "$raw" "$size" "$t0" "$t1" "$t2" "$t3" "$t4" "$hwm" <<'PY'
import sys
raw, size, t0, t1, t2, t3, t4, hwm = sys.argv[1:]
raw, size, hwm = int(raw), int(size), int(hwm)
a, b, c = float(t1) - float(t0), float(t2) - float(t1), float(t4) - float(t3)
print(f"layer: {raw/1e6:.0f} MB uncompressed, {size/1e6:.0f} MB gzip")
print(f"curl | gzip -dc | tar -t   {a:6.2f} s  ({raw/1e6/a:6.0f} MB/s)")
print(f"curl | igzip -dc | tar -t  {b:6.2f} s  ({raw/1e6/b:6.0f} MB/s)")
print(f"bulwark scan               {c:6.2f} s  ({raw/1e6/c:6.0f} MB/s)")
print(f"bulwark / gzip pipeline:   {c/a:.2f}x the time;  bulwark / igzip pipeline: {c/b:.2f}x")
print(f"bulwarkd peak RSS: {hwm/1024:.0f} MB (goal < 100 MB)")
PY
