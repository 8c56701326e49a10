#!/usr/bin/env bash
# Starts a local registry (Debian's docker-registry) on 127.0.0.1:5000 (BULWARK_DEMO_PORT to
# choose another) and pushes a small image built here from files this script writes (no Docker
# needed), so that the README's example calls have something to scan. Run it while bulwarkd runs (deploy/run.sh) in another shell.
#   deploy/demo.sh          start the registry (if not running) and push demo/app:1.0
#   deploy/demo.sh stop     stop the demo registry
# Installs what it calls (docker-registry, skopeo, curl) through deploy/install-deps.sh --demo.
# A port that already answers /v2/ with a registry this script did not start is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${BULWARK_DEMO_DIR:-$PWD/bulwark-demo}
port=${BULWARK_DEMO_PORT:-5000}
registry=127.0.0.1:$port

if [[ "${1:-}" == "stop" ]]; then
  [[ -f "$demo/registry.pid" ]] && kill "$(cat "$demo/registry.pid")" 2>/dev/null || true
  rm -f "$demo/registry.pid"
  exit 0
fi

bash deploy/install-deps.sh --demo
mkdir -p "$demo"
answers() { curl -fsS --max-time 2 "http://$registry/v2/" >/dev/null 2>&1; }
ours() { [[ -f "$demo/registry.pid" ]] && kill -0 "$(cat "$demo/registry.pid")" 2>/dev/null; }
if answers && ! ours; then
  # Pushing into a registry this script did not start would leave the demo image there.
  echo "deploy/demo.sh: $registry already answers /v2/, and it is not the demo's registry." >&2
  echo "  Run the demo on a free port: BULWARK_DEMO_PORT=5001 bash deploy/demo.sh" >&2
  echo "  (then scan 127.0.0.1:5001/demo/app:1.0 in the examples)" >&2
  exit 1
fi
if ! answers; then
  cat >"$demo/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $demo/storage
  delete:
    enabled: true
http:
  addr: $registry
YAML
  nohup docker-registry serve "$demo/registry.yml" >"$demo/registry.log" 2>&1 &
  echo $! >"$demo/registry.pid"
  for _ in $(seq 100); do
    answers && break
    kill -0 "$(cat "$demo/registry.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if ! answers; then
    kill "$(cat "$demo/registry.pid")" 2>/dev/null || true
    rm -f "$demo/registry.pid"
    echo "deploy/demo.sh: docker-registry did not answer on $registry; its log ($demo/registry.log) ends:" >&2
    tail -n 5 "$demo/registry.log" | sed 's/^/  /' >&2
    if grep -q "address already in use" "$demo/registry.log"; then
      echo "  Port $port is taken: BULWARK_DEMO_PORT=5001 bash deploy/demo.sh" >&2
    fi
    exit 1
  fi
fi

# An OCI layout: a "base" layer that looks like a small Debian, and an "app" layer.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout=$work/layout
mkdir -p "$layout/blobs/sha256" "$work/base/etc" "$work/base/bin" "$work/base/usr/bin" "$work/app/app"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$work/base/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/app:/bin/sh\n' >"$work/base/etc/passwd"
cp /bin/dash "$work/base/bin/sh"
cp /usr/bin/passwd "$work/base/usr/bin/passwd" && chmod 4755 "$work/base/usr/bin/passwd"
cp /bin/true "$work/app/app/server"
printf 'API_TOKEN=demo-not-a-secret\n' >"$work/app/app/.env"

blob() {  # blob FILE -> prints "digest size", storing the file in the layout
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  cp "$1" "$layout/blobs/sha256/$d"
  echo "$d $s"
}
layer() {  # layer DIR -> prints "digest size diff_id"
  tar --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -C "$1" -cf "$work/l.tar" .
  local diff
  diff=$(sha256sum "$work/l.tar" | cut -d' ' -f1)
  gzip -n -f "$work/l.tar"
  echo "$(blob "$work/l.tar.gz") $diff"
}
read -r base_d base_s base_diff < <(layer "$work/base")
read -r app_d app_s app_diff < <(layer "$work/app")
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
 "config":{"User":"","Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Cmd":["/app/server"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$base_diff","sha256:$app_diff"]},
 "history":[{"created_by":"/bin/sh -c #(nop) ADD file:demo in / "},
            {"created_by":"RUN /bin/sh -c curl -fsSL https://example.invalid/install.sh | sh # buildkit"}]}
JSON
read -r cfg_d cfg_s < <(blob "$work/config.json")
cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg_d","size":$cfg_s},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$base_d","size":$base_s},
           {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$app_d","size":$app_s}]}
JSON
read -r man_d man_s < <(blob "$work/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1.0"}}]}' \
  "$man_d" "$man_s" >"$layout/index.json"
skopeo copy --quiet --insecure-policy --dest-tls-verify=false "oci:$layout:1.0" "docker://$registry/demo/app:1.0"

echo "pushed $registry/demo/app:1.0 (manifest sha256:$man_d)"
echo "registry log: $demo/registry.log; stop it with: deploy/demo.sh stop"
