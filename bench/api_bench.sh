#!/usr/bin/env bash
# API read throughput and concurrent scans of images sharing a base, each against a baseline
# taken in the same run.
#
#   bash bench/api_bench.sh [SECONDS] [IMAGES]
#
# 1. `wrk` (2 threads, 16 connections, SECONDS, default 10) on GET /v1/images/{digest}/report of
#    a scanned image, next to the same on GET /healthz (the server's floor: no store, no JSON
#    built): requests per second and p99 of each, and their ratio.
# 2. IMAGES (default 40) images that share a 60 MB base layer and differ by a small app layer,
#    pushed to a docker-registry on loopback: one scanned alone in a fresh daemon, then all of
#    them submitted at once to another fresh daemon. Total time against IMAGES × the one scan,
#    and how many times the base blob was fetched (once is the goal).
# Release build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
images=${2:-40}
bash deploy/install-deps.sh --demo
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid= bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
access_log=1  # docker-registry's access log counts the base blob's fetches
source tests/support/registry.sh

# The shared base: files of /usr/lib up to 60 MB; each app layer: one small file.
(find /usr/lib/x86_64-linux-gnu -type f -printf '%s %p\n' 2>/dev/null || true) |
  awk -v max=$((60 * 1024 * 1024)) '{t+=$1; if (t>max) exit; print substr($0, index($0,$2))}' >"$work/list"
tar --numeric-owner -cf "$work/base.tar" -T "$work/list" 2>/dev/null
python3 - "$work" "$images" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work, n = sys.argv[1], int(sys.argv[2])
blobs = os.path.join(work, "oci", "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return d
raw = open(os.path.join(work, "base.tar"), "rb").read()
base_gz = gzip.compress(raw, 6, mtime=0)
base = {"digest": put(base_gz), "size": len(base_gz), "diff": hashlib.sha256(raw).hexdigest()}
open(os.path.join(work, "base.digest"), "w").write(base["digest"])
index = []
for i in range(n):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        data = f"app {i}\n".encode()
        ti = tarfile.TarInfo(f"app/version-{i}"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    app_raw = b.getvalue(); app_gz = gzip.compress(app_raw, 6, mtime=0)
    app = {"digest": put(app_gz), "size": len(app_gz), "diff": hashlib.sha256(app_raw).hexdigest()}
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"User": "65532"},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + base["diff"], "sha256:" + app["diff"]]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + l["digest"], "size": l["size"]} for l in (base, app)]}).encode()
    index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + put(man),
                  "size": len(man), "annotations": {"org.opencontainers.image.ref.name": f"i{i}"}})
open(os.path.join(work, "oci", "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
open(os.path.join(work, "oci", "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": index}))
PY
for i in $(seq 0 $((images - 1))); do
  skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$work/oci:i$i" "docker://127.0.0.1:$port/bench/app$i:1"
done
base_digest=$(cat "$work/base.digest")
base_gets() { grep -c "\"GET /v2/[^ ]*/blobs/sha256:$base_digest" "$work/reg.log" || true; }
base_before=$(base_gets)

start_daemon() {
  rm -rf "$work/data"
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" & bw_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
  api=$(sed -n 's/.*listening on //p' "$work/bw.out")
}
stop_daemon() { kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=; }
now() { date +%s.%N; }

# One scan alone.
start_daemon
t0=$(now)
scan=$(curl -fs -X POST "$api/v1/scans" -d "{\"image\":\"127.0.0.1:$port/bench/app0:1\",\"wait\":600}")
t1=$(now)
digest=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["manifest_digest"])' "$scan")

# API reads on the same daemon.
wrk_line() { wrk -t2 -c16 -d"${secs}s" --latency "$1" | awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }
read -r h_rps h_p99 <<<"$(wrk_line "$api/healthz")"
read -r r_rps r_p99 <<<"$(wrk_line "$api/v1/images/$digest/report")"
stop_daemon

# All images at once, in a fresh daemon.
start_daemon
t2=$(now)
ids=()
for i in $(seq 0 $((images - 1))); do
  ids+=("$(curl -fs -X POST "$api/v1/scans" -d "{\"image\":\"127.0.0.1:$port/bench/app$i:1\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
done
for id in "${ids[@]}"; do
  curl -fs "$api/v1/scans/$id?wait=600" | grep -q '"status":"done"' || { echo "scan $id failed"; exit 1; }
done
t3=$(now)
stop_daemon
base_after=$(base_gets)

python3 - "$t0" "$t1" "$t2" "$t3" "$images" "$h_rps" "$h_p99" "$r_rps" "$r_p99" "$((base_after - base_before))" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5]); n = int(sys.argv[5])
h_rps, h_p99, r_rps, r_p99, base_gets = sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9], sys.argv[10]
one, all_ = t1 - t0, t3 - t2
print(f"GET /healthz (floor)       {float(h_rps):9.0f} req/s  p99 {h_p99}")
print(f"GET /v1/images/…/report    {float(r_rps):9.0f} req/s  p99 {r_p99}  ({float(r_rps)/float(h_rps):.2f}x the floor's rate)")
print(f"one scan alone             {one:6.2f} s")
print(f"{n} scans at once           {all_:6.2f} s  ({all_/(n*one):.2f}x of {n} x one scan)")
print(f"base blob fetched          {int(base_gets) - 1} time(s) for the {n} images (1 for the single scan before)")
PY
