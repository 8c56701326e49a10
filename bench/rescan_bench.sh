#!/usr/bin/env bash
# A rescan of an image already reported, and a fresh daemon's start, against the floor measured
# in the same run.
#
#   bash bench/rescan_bench.sh [ROUNDS]
#
# Pushes a one-layer image to a docker-registry on loopback, scans it once, then times ROUNDS
# (default 200) rescans through the API (POST /v1/scans with wait, one at a time) next to the
# registry's own manifest GET for the same tag (curl, same number of rounds): the floor, since a
# known image costs Bulwark one manifest request. Then times a fresh bulwarkd with an empty
# store from exec to /readyz answering 200, five times. Release build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
bash deploy/install-deps.sh --demo
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid= bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
source tests/support/registry.sh

# A one-layer image: a few files, enough for every analyser to have something to say.
mkdir -p "$work/root/etc" "$work/root/app"
printf 'ID=debian\nVERSION_ID="12"\n' >"$work/root/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/root/etc/passwd"
cp /bin/true "$work/root/app/server"
tar --numeric-owner -C "$work/root" -cf "$work/layer.tar" etc app
push_layer_image "$work/layer.tar" '{"User":"65532","Entrypoint":["/app/server"]}' bench/small:1

./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" & bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")
curl -fs -X POST "$api/v1/scans" -d "{\"image\":\"127.0.0.1:$port/bench/small:1\",\"wait\":60}" | grep -q '"status":"done"'

python3 - "$api" "127.0.0.1:$port" "$rounds" <<'PY'
import http.client, json, statistics, sys, time
api, registry, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
ahost = api.split("//")[1]
def timed(host, method, path, body=None, headers={}):
    c = http.client.HTTPConnection(host)  # a new connection each time, as a CI job's would be
    t = time.perf_counter()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse(); data = r.read(); c.close()
    return time.perf_counter() - t, r.status, data
accept = "application/vnd.oci.image.manifest.v1+json"
floor, ours = [], []
for _ in range(rounds):
    floor.append(timed(registry, "GET", "/v2/bench/small/manifests/1", headers={"Accept": accept})[0])
    dt, status, data = timed(ahost, "POST", "/v1/scans",
                             json.dumps({"image": f"{registry}/bench/small:1", "wait": 30}))
    assert status == 200 and json.loads(data)["status"] == "done", data
    ours.append(dt)
def pct(v, p): return sorted(v)[int(p * (len(v) - 1))] * 1000
print(f"rescan of a reported image, {rounds} rounds (new connection each):")
print(f"  registry manifest GET (floor)  p50 {pct(floor,.5):6.2f} ms  p99 {pct(floor,.99):6.2f} ms")
print(f"  bulwark POST /v1/scans wait    p50 {pct(ours,.5):6.2f} ms  p99 {pct(ours,.99):6.2f} ms")
print(f"  ratio p50 {pct(ours,.5)/pct(floor,.5):.2f}x;  Bulwark's own time p50 {pct(ours,.5)-pct(floor,.5):.2f} ms")
PY
curl -fs "$api/metrics" | grep -E '^bulwark_(known_rescans_total|registry_blob_fetches_total|registry_manifest_fetches_total) '
kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=

# A fresh daemon with an empty store: exec to /readyz 200.
for i in 1 2 3 4 5; do
  rm -rf "$work/fresh"
  t0=$(date +%s%N)
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/fresh" >"$work/f.out" 2>/dev/null & bw_pid=$!
  until grep -q listening "$work/f.out" 2>/dev/null; do sleep 0.002; done
  fapi=$(sed -n 's/.*listening on //p' "$work/f.out")
  until curl -fs "$fapi/readyz" >/dev/null 2>&1; do sleep 0.002; done
  t1=$(date +%s%N)
  echo "fresh daemon, start to ready: $(( (t1 - t0) / 1000000 )) ms"
  kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=
done
