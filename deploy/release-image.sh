#!/usr/bin/env bash
# The release image without a Docker engine, graded by Bulwark itself:
#   bash deploy/release-image.sh [BUILD_DIR]      (default: build/, the release build)
# Builds the filesystem deploy/Dockerfile ships (deploy/release-rootfs.sh, from BUILD_DIR's
# binaries), gives it the config and history deploy/Dockerfile's final stage gives the image
# (deploy/dockerfile_config.py), pushes it to Debian's docker-registry on loopback, scans it with
# BUILD_DIR's bulwarkd and fails unless it grades A with no finding above low. ctest runs it
# (release_image) on the test build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
reg_pid= bw_pid=
cleanup() {
  for pid in $bw_pid $reg_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source tests/support/registry.sh

bash deploy/release-rootfs.sh "$build" "$work/rootfs"
tar --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" .
image=$(python3 deploy/dockerfile_config.py deploy/Dockerfile)
section=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["config"]))' "$image")
history=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["history"]))' "$image")
push_layer_image "$work/layer.tar" "$section" release/bulwarkd:test "$history"

"$build/server/bulwarkd" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" &
bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")
[[ -n "$api" ]] || { cat "$work/bw.err"; exit 1; }
curl -fsS -X POST "$api/v1/scans" -d "{\"image\":\"127.0.0.1:$port/release/bulwarkd:test\",\"wait\":300}" >"$work/scan.json"
digest=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["status"]=="done", s; print(s["manifest_digest"])' "$work/scan.json")
curl -fsS "$api/v1/images/$digest/report" >"$work/report.json"
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
active = [f for f in r["findings"] if not f["suppressed"]]
print(f"release image: score {r['score']}, grade {r['grade']}, base {r['base'].get('name') or 'none'}")
for f in active:
    print(f"  {f['severity']:8} {f['rule_id']:22} {f['evidence'].get('path') or f['evidence'].get('detail') or ''}")
serious = [f["rule_id"] for f in active if f["severity"] in ("medium", "high", "critical")]
if r["grade"] != "A" or serious:
    sys.exit(f"the release image must grade A with nothing above low; got {r['grade']}, {serious}")
PY
