#!/usr/bin/env bash
# `bulwark harden` of a Python app onto a python3 base, next to `skopeo copy` of the result in
# the same run: to another repository of the same registry, and to an OCI layout (pull only).
#
#   bash bench/harden_bench.sh [ROUNDS]
#
# The base is a replica of distroless python3 made of the Debian packages it is built from, in a
# docker-registry on loopback, measured by a release `bulwarkd` through `bases.mirrors`. The app
# is python3 on a Debian-like layer plus /app/main.py, run by `CMD ["python3", "/app/main.py"]`.
# Timed: the CLI's first `harden` (the app's cold scan, the build, the push and the scan of the
# result), then ROUNDS (default 5) of `POST /v1/images/{digest}/harden` to new tags (the build,
# the push and the scan of the result). Release build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bash deploy/install-deps.sh --demo
command -v /usr/bin/time >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null; }
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid=
bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT
source tests/support/registry.sh

# The files installed Debian packages put on this machine, as one layer: top-level merged-/usr
# links (/bin, /lib…) are left out and what is under them is taken through them.
package_layer() {  # out.tar extra-dir package…
  local out=$1 extra=$2; shift 2
  for p in "$@"; do dpkg -L "$p"; done | sort -u | while read -r path; do
    [[ "$path" != /?* || "$path" == /. ]] && continue  # "package diverts others to: …"
    rel=${path#/}
    [[ "$rel" != */* && -L "$path" ]] && continue
    if [[ -e "$path" || -L "$path" ]]; then printf '%s\n' "$rel"; fi
  done >"$work/list"
  tar --numeric-owner --no-recursion -C / -cf "$out" -T "$work/list"
  tar --numeric-owner -C "$extra" -rf "$out" .
}

# An OCI layout of gzip layers (each a tar) under a config section, copied to the registry.
push_image() {  # repo:tag config-section tar…
  local dest=$1 section=$2; shift 2
  python3 - "$work/oci-$RANDOM" "$section" "127.0.0.1:$port/$dest" "$@" <<'PY'
import gzip, hashlib, json, os, subprocess, sys
out, section, dest, tars = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4:]
os.makedirs(out + "/blobs/sha256")
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
layers, diff_ids, history = [], [], []
for t in tars:
    raw = open(t, "rb").read()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(gzip.compress(raw, 6))})
    history.append({"created": "2026-11-20T00:00:00Z", "created_by": "ADD " + os.path.basename(t)})
config = blob(json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-11-20T00:00:00Z",
                          "config": section, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                          "history": history}).encode())
manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config}, "layers": layers}).encode())
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
     "annotations": {"org.opencontainers.image.ref.name": "b"}}]}))
subprocess.run(["skopeo", "copy", "-q", "--insecure-policy", "--dest-tls-verify=false",
                "oci:" + out + ":b", "docker://" + dest], check=True)
PY
}

python=(python3.11-minimal libpython3.11-minimal zlib1g libexpat1)
mkdir -p "$work/base-extra/etc" "$work/app-extra/etc" "$work/app/app"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/base-extra/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/base-extra/etc/group"
package_layer "$work/python3-base.tar" "$work/base-extra" base-files netbase tzdata ca-certificates libc6 libssl3 "${python[@]}"
push_image mirror/python3:nonroot '{"User":"65532","Entrypoint":["/usr/bin/python3.11"]}' "$work/python3-base.tar"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/app-extra/etc/passwd"
package_layer "$work/debian.tar" "$work/app-extra" base-files dash coreutils libc6 python3-minimal "${python[@]}"
printf 'print("hello from python")\n' >"$work/app/app/main.py"
tar --numeric-owner -C "$work/app" -cf "$work/app.tar" app
push_image bench/app:1 '{"Cmd":["python3","/app/main.py"],"WorkingDir":"/app"}' "$work/debian.tar" "$work/app.tar"
echo "base $(du -m "$work/python3-base.tar" | cut -f1) MB, app image $(( $(du -m "$work/debian.tar" | cut -f1) + 1 )) MB (uncompressed)"

cat >"$work/bulwarkd.json" <<JSON
{"registries": {"allowed": ["127.0.0.1"]},
 "bases": {"measure": true, "mirrors": [{"id": "distroless-python3", "image": "127.0.0.1:$port/mirror/python3:nonroot"}]}}
JSON
./build/server/bulwarkd --config "$work/bulwarkd.json" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" & bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")
for _ in $(seq 600); do
  curl -fs "$api/v1/bases" | python3 -c 'import json,sys; b=[x for x in json.load(sys.stdin)["bases"] if x["id"]=="distroless-python3"][0]; sys.exit(0 if (b.get("measured") or {}).get("grade") else 1)' && break
  sleep 0.1
done

reg=127.0.0.1:$port
/usr/bin/time -f "%e" -o "$work/t" ./build/client/bulwark --server "$api" harden "$reg/bench/app:1" \
  --push "$reg/bench/app:hardened" --onto distroless-python3 | tee "$work/harden.txt"
first=$(cat "$work/t")
digest=$(curl -fs -X POST "$api/v1/scans" -d "{\"image\":\"$reg/bench/app:1\",\"wait\":60}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest_digest"])')

python3 - "$api" "$reg" "$digest" "$rounds" "$first" "$work" <<'PY'
import http.client, json, statistics, subprocess, sys, time
api, reg, digest, rounds, first, work = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
host = api.split("//")[1]
def harden(tag):
    c = http.client.HTTPConnection(host, timeout=300)
    t = time.perf_counter()
    c.request("POST", f"/v1/images/{digest}/harden",
              json.dumps({"push": f"{reg}/bench/app:{tag}", "onto": "distroless-python3"}))
    r = c.getresponse(); body = json.loads(r.read())
    assert r.status == 201 and body.get("as_projected"), body
    return time.perf_counter() - t, body
def skopeo(*args):
    t = time.perf_counter()
    subprocess.run(["skopeo", "copy", "-q", "--insecure-policy", "--src-tls-verify=false",
                    "--dest-tls-verify=false", *args], check=True)
    return time.perf_counter() - t
ours, same, pull = [], [], []
for i in range(rounds):
    dt, body = harden(f"h{i}")
    ours.append(dt)
    src = "docker://" + body["image"].split("@")[0]
    same.append(skopeo(src, f"docker://{reg}/bench/copy{i}:1"))
    subprocess.run(["rm", "-rf", f"{work}/pull"], check=True)
    pull.append(skopeo(src, f"oci:{work}/pull:b"))
m = statistics.median
print(f"bulwark harden, first (cold scan of the app, build, push, scan)  {first:6.2f} s")
print(f"POST /v1/images/{{digest}}/harden (build, push, scan), median of {rounds}  {m(ours):6.2f} s  "
      f"layers {body['layers']}")
print(f"skopeo copy of the result to another repository, median            {m(same):6.2f} s  "
      f"(harden {m(ours)/m(same):.2f}x)")
print(f"skopeo copy of the result to an OCI layout (pull only), median     {m(pull):6.2f} s  "
      f"(harden {m(ours)/m(pull):.2f}x)")
PY
kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=
