#!/usr/bin/env bash
# Layer analysis speed, CPU and memory against the floor on the same blob, in one run.
#
#   bash bench/layer_bench.sh [SOURCE] [MAX_MB]
#
# SOURCE is one of
#   toolchains (default)  one layer of Debian packages unpacked with dpkg-deb -x:
#                         default-jre-headless, golang-go, gcc, g++ and what they depend on
#                         (about 1 GB unpacked, 18,000 files, thousands of them ELF)
#   minbase               a Debian bookworm minbase root made by debootstrap (88 packages)
#   entries:N             N empty files under etc/ (every one notable: the hostile-layer case)
#   DIR                   the files of DIR, cut at MAX_MB of input (default 600)
# The layer is gzipped (-6) into a one-layer image pushed to a docker-registry on loopback;
# then, on that blob:
#   floor A:  curl BLOB | gzip -dc | tar -t
#   floor B:  curl BLOB | igzip -dc | tar -t
#   bulwark:  POST /v1/scans with wait to a fresh bulwarkd (fetch, both sha256s, inflate, tar
#             walk, every analyser, the store), then its CPU time and peak RSS (VmHWM);
#   reads:    the same scan again on another fresh bulwarkd under `strace -c`: how many socket
#             reads the blob took, and so the average bytes per read (untimed: strace slows it).
# Layers built from packages are cached under ${BULWARK_BENCH_CACHE:-/var/tmp/bulwark-bench}.
# Release build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-toolchains}
max_mb=${2:-600}
bash deploy/install-deps.sh --demo
need=()
command -v igzip >/dev/null || need+=(isal)
[[ "$src" == minbase ]] && ! command -v debootstrap >/dev/null && need+=(debootstrap)
command -v strace >/dev/null || need+=(strace)
((${#need[@]} == 0)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
cache=${BULWARK_BENCH_CACHE:-/var/tmp/bulwark-bench}
mkdir -p "$cache"
reg_pid= bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
source tests/support/registry.sh

case "$src" in
  toolchains)
    tar="$cache/toolchains.tar"
    if [[ ! -s "$tar" ]]; then
      mkdir -p "$work/debs" "$work/root"
      pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances default-jre-headless golang-go gcc g++ |
        grep '^[a-z0-9]' | sort -u)
      # shellcheck disable=SC2086
      (cd "$work/debs" && apt-get download $pkgs >/dev/null 2>&1)
      for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
      tar --numeric-owner -C "$work/root" -cf "$tar.part" . && mv "$tar.part" "$tar"
      rm -rf "$work/debs" "$work/root"
    fi
    ;;
  minbase)
    tar="$cache/minbase.tar"
    if [[ ! -s "$tar" ]]; then
      debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian >/dev/null
      # As Debian's own image ships it: no downloaded packages, no apt lists.
      rm -rf "$work/root"/var/cache/apt/archives/*.deb "$work/root"/var/lib/apt/lists/*
      tar --numeric-owner -C "$work/root" -cf "$tar.part" . && mv "$tar.part" "$tar"
      rm -rf "$work/root"
    fi
    ;;
  entries:*)
    tar="$work/layer.tar"
    mkdir -p "$work/root/etc"
    (cd "$work/root/etc" && seq -f 'f%.0f' 1 "${src#entries:}" | xargs touch)
    tar --numeric-owner -C "$work/root" -cf "$tar" etc
    ;;
  *)
    tar="$work/layer.tar"
    (find "$src" -type f -printf '%s %p\n' 2>/dev/null || true) |
      awk -v max=$((max_mb * 1024 * 1024)) '{t+=$1; if (t>max) exit; print substr($0, index($0,$2))}' >"$work/list"
    tar --numeric-owner -cf "$tar" -T "$work/list" 2>/dev/null
    ;;
esac
cp "$tar" "$work/layer.tar"
push_layer_image "$work/layer.tar" "{}" bench/layer:1
rm -f "$work/layer.tar"
url="http://127.0.0.1:$port/v2/bench/layer/blobs/sha256:$digest"

./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" & bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")

python3 - "$raw" "$size" "$url" "$api" "127.0.0.1:$port/bench/layer:1" "$bw_pid" <<'PY'
import json, os, resource, subprocess, sys, time, urllib.request
raw, size, url, api, image, pid = sys.argv[1:]
raw, size, pid = int(raw), int(size), int(pid)
tick = os.sysconf("SC_CLK_TCK")

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def floor(cmd):
    # Wall and CPU of the whole pipeline (curl, the inflater and tar), best of three.
    best = None
    for _ in range(3):
        c0, t0 = children_cpu(), time.monotonic()
        subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], check=True, stdout=subprocess.DEVNULL)
        run = (time.monotonic() - t0, children_cpu() - c0)
        best = run if best is None or run[0] < best[0] else best
    return best

def daemon_cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def peak_rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

a = floor(f"curl -fs {url} | gzip -dc | tar -t")
b = floor(f"curl -fs {url} | igzip -dc | tar -t")
c0, t0 = daemon_cpu(), time.monotonic()
req = urllib.request.Request(f"{api}/v1/scans", data=json.dumps({"image": image, "wait": 900}).encode(), method="POST")
scan = json.load(urllib.request.urlopen(req, timeout=1000))
c = (time.monotonic() - t0, daemon_cpu() - c0)
if scan.get("status") != "done":
    sys.exit(f"scan failed: {scan}")
report = json.load(urllib.request.urlopen(f"{api}/v1/images/{scan['manifest_digest']}/report"))
print(f"layer: {raw/1e6:.0f} MB uncompressed, {size/1e6:.0f} MB gzip; report: grade "
      f"{report['grade']}, {len(report['findings'])} findings")
print(f"{'':28}{'wall':>8}{'CPU':>8}{'MB/s':>8}")
for name, (wall, cpu) in [("curl | gzip -dc | tar -t", a), ("curl | igzip -dc | tar -t", b), ("bulwark scan", c)]:
    print(f"{name:28}{wall:7.2f}s{cpu:7.2f}s{raw/1e6/wall:8.0f}")
print(f"bulwark / igzip floor: {c[0]/b[0]:.2f}x wall, {c[1]/b[1]:.2f}x CPU "
      f"(goal <= 1.0x, <= 1.5x); / gzip floor: {c[0]/a[0]:.2f}x wall")
print(f"bulwarkd peak RSS: {peak_rss_mb():.0f} MB (goal <= 100 MB)")
PY
kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true

# Socket reads: a cold scan of the same blob by a daemon under strace, counting recvmsg/recvfrom.
strace -f -c -e trace=recvmsg,recvfrom,read -o "$work/strace" \
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data2" >"$work/bw2.out" 2>"$work/bw2.err" &
bw_pid=$!
for _ in $(seq 200); do grep -q listening "$work/bw2.out" 2>/dev/null && break; sleep 0.05; done
api2=$(sed -n 's/.*listening on //p' "$work/bw2.out")
curl -fsS -X POST "$api2/v1/scans" -d "{\"image\": \"127.0.0.1:$port/bench/layer:1\", \"wait\": 900}" >/dev/null
# strace started the daemon: stop the daemon (its child), and strace writes its summary.
kill -TERM $(cat /proc/"$bw_pid"/task/*/children) 2>/dev/null || true
wait "$bw_pid" 2>/dev/null || true; bw_pid=
python3 - "$work/strace" "$size" <<'PY'
import sys
calls = 0
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[-1] in ("recvmsg", "recvfrom"):
        calls += int(f[3])
size = int(sys.argv[2])
print(f"socket reads for the {size/1e6:.1f} MB blob: {calls} (average {size/max(calls,1)/1024:.0f} KiB; goal >= 64 KiB)")
PY
