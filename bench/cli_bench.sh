#!/usr/bin/env bash
# The CLI with no daemon: a local scan of a small image and of a Debian-sized one, wall time and
# peak RSS, next to `skopeo copy` of the same image to an OCI layout (pull only) in the same run.
#
#   bash bench/cli_bench.sh [DEBIAN_SOURCE_DIR] [MAX_MB]
#
# The Debian-sized image is one layer of files from DEBIAN_SOURCE_DIR (default /usr, cut at
# MAX_MB, default 120 — about debian:12's size), gzip; the small one is a static binary and a
# passwd file. Both are pushed to a docker-registry on loopback. Release build; never part of
# the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr}
max_mb=${2:-120}
bash deploy/install-deps.sh --demo
command -v /usr/bin/time >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null; }
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid=
trap 'kill $reg_pid 2>/dev/null || true; rm -rf "$work"' EXIT
source tests/support/registry.sh

# One image as an OCI layout from a tar, pushed with skopeo.
push() {  # name tarfile
  python3 - "$work/$1-oci" "$2" <<'PY'
import gzip, hashlib, json, os, sys
out, tar = sys.argv[1], sys.argv[2]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
raw = open(tar, "rb").read()
diff = "sha256:" + hashlib.sha256(raw).hexdigest()
gz = gzip.compress(raw, 6)
def blob(b):
    d = hashlib.sha256(b).hexdigest(); open(out + "/blobs/sha256/" + d, "wb").write(b); return "sha256:" + d, len(b)
ld, ls = blob(gz)
cd, cs = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"User": "65532"},
                          "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode())
md, ms = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}).encode())
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
     "annotations": {"org.opencontainers.image.ref.name": "b"}}]}))
print(f"{len(raw)/1e6:.0f} MB uncompressed, {len(gz)/1e6:.0f} MB gzip")
PY
  skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$work/$1-oci:b" "docker://127.0.0.1:$port/bench/$1:1"
}

mkdir -p "$work/small/app" "$work/small/etc"
cp "$(command -v busybox || command -v bash)" "$work/small/app/server"
echo 'nonroot:x:65532:65532::/home:/sbin/nologin' >"$work/small/etc/passwd"
tar --numeric-owner -C "$work/small" -cf "$work/small.tar" .
(find "$src" -type f -printf '%s %p\n' 2>/dev/null || true) | awk -v max=$((max_mb * 1024 * 1024)) '{t+=$1; if (t>max) exit; print substr($0, index($0,$2))}' >"$work/list"
tar --numeric-owner -cf "$work/debian.tar" -T "$work/list" 2>/dev/null
echo "small:  $(push small "$work/small.tar")"
echo "debian: $(push debian "$work/debian.tar")"

for name in small debian; do
  ref="127.0.0.1:$port/bench/$name:1"
  rm -rf "$work/pull" "$work/cache"
  /usr/bin/time -f "%e %M" -o "$work/t" \
    skopeo copy -q --insecure-policy --src-tls-verify=false "docker://$ref" "oci:$work/pull:b"
  read -r base kb <"$work/t"
  printf '%-34s %6.2f s  %5d MB peak RSS\n' "skopeo copy $name (pull only)" "$base" $((kb / 1024))
  env -u BULWARK_SERVER XDG_CACHE_HOME="$work/cache" /usr/bin/time -f "%e %M" -o "$work/t" \
    ./build/client/bulwark scan "$ref" --format json >/dev/null
  read -r secs kb <"$work/t"
  printf '%-34s %6.2f s  %5d MB peak RSS   (%.2fx skopeo pull)\n' "bulwark scan $name (no daemon)" "$secs" $((kb / 1024)) "$(python3 -c "print($secs/max($base,0.01))")"
done
