#!/usr/bin/env bash
# The browser tests of bulwarkd's web UI, run by ctest (tests/CMakeLists.txt):
#   bash tests/web/run.sh BUILD_DIR
# Starts Debian's docker-registry on loopback, pushes images this script builds from files it
# writes, starts the daemon of BUILD_DIR on an empty store, scans them, and drives Debian's
# chromium with puppeteer-core (tests/web/ui_test.mjs). Screenshots of every page are saved in
# BUILD_DIR/tests/web-artifacts. Only loopback is contacted; npm packages are installed once,
# from tests/web/package-lock.json, into tests/web/node_modules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
cd "$here/../.."
artifacts="$build/tests/web-artifacts"
mkdir -p "$artifacts"
source "$here/npm_ci.sh"

work=$(mktemp -d)
reg_pid= bw_pid= proxy_pid=
cleanup() {
  for pid in $bw_pid $proxy_pid $reg_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source tests/support/registry.sh

# The images: a good one, then a bad one under the same tag (a regression in the tag's
# history), and a large one pulled through a slow proxy (a scan still running on the page).
mkdir -p "$work/good/app" "$work/good/etc"
cp /bin/true "$work/good/app/server"
printf 'app:x:65532:65532::/home/app:/sbin/nologin\n' >"$work/good/etc/passwd"
tar --numeric-owner -C "$work/good" -cf "$work/good.tar" app etc
push_layer_image "$work/good.tar" '{"User":"65532","Entrypoint":["/app/server"]}' team/app:1


mkdir -p "$work/bad/bin" "$work/bad/usr/bin" "$work/bad/etc" "$work/bad/app"
cp /bin/dash "$work/bad/bin/sh"
cp /bin/true "$work/bad/usr/bin/passwd" && chmod 4755 "$work/bad/usr/bin/passwd"
cp /bin/true "$work/bad/app/server"
mkdir -p "$work/bad/app/node_modules/left-pad"
printf '{"name":"left-pad","version":"1.3.0","license":"WTFPL"}\n' >"$work/bad/app/node_modules/left-pad/package.json"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$work/bad/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/bad/etc/passwd"
tar --numeric-owner -C "$work/bad" -cf "$work/bad.tar" bin usr etc app
push_layer_image "$work/bad.tar" '{"Entrypoint":["/app/server"]}' team/db:2

mkdir -p "$work/big/data"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$work/big/data/blob"
tar --numeric-owner -C "$work/big" -cf "$work/big.tar" data
push_layer_image "$work/big.tar" '{"User":"1000"}' team/big:1

python3 "$here/slow_proxy.py" "$port" 262144 >"$work/proxy.port" &
proxy_pid=$!
for _ in $(seq 50); do [[ -s "$work/proxy.port" ]] && break; sleep 0.1; done
proxy_port=$(cat "$work/proxy.port")

"$build/server/bulwarkd" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/bw.out" 2>"$work/bw.err" &
bw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/.*listening on //p' "$work/bw.out")
[[ -n "$api" ]] || { cat "$work/bw.err"; exit 1; }

# A second daemon with API auth on, for the token prompt.
printf '{"api":{"tokens":[{"name":"ui","sha256":"%s","scopes":["read"]}]}}' \
  "$(printf 'ui-secret' | sha256sum | cut -d' ' -f1)" >"$work/auth.json"
"$build/server/bulwarkd" --config "$work/auth.json" --listen 127.0.0.1:0 --data-dir "$work/auth-data" \
  >"$work/auth.out" 2>"$work/auth.err" &
bw_pid="$bw_pid $!"
for _ in $(seq 100); do grep -q listening "$work/auth.out" 2>/dev/null && break; sleep 0.1; done
auth_api=$(sed -n 's/.*listening on //p' "$work/auth.out")

scan() {
  curl -fsS -X POST "$api/v1/scans" -d "{\"image\":\"$1\",\"wait\":120}" | grep -q '"status":"done"' ||
    { echo "scan of $1 did not finish"; exit 1; }
}
reg="127.0.0.1:$port"
scan "$reg/team/app:1"
# The tag moves to the bad image: its history shows the regression. Times are kept to the
# second: the move is a second later, as it would be in life.
sleep 1.1
skopeo copy -q --insecure-policy --src-tls-verify=false --dest-tls-verify=false \
  "docker://$reg/team/db:2" "docker://$reg/team/app:1"
scan "$reg/team/app:1"
scan "$reg/team/db:2"

BULWARK_API="$api" BULWARK_AUTH_API="$auth_api" BULWARK_AUTH_TOKEN=ui-secret \
  BULWARK_REGISTRY="$reg" BULWARK_SLOW_IMAGE="127.0.0.1:$proxy_port/team/big:1" \
  BULWARK_ARTIFACTS="$artifacts" \
  node "$here/ui_test.mjs"
