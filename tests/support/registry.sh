# Sourced by the benchmarks and the browser tests: starts Debian's docker-registry on a free
# loopback port, storing under $work, and waits until it answers. Sets `port` and `reg_pid` (the caller stops it).
# With `access_log=1` set before sourcing, the registry logs every request to $work/reg.log: one
# access-log line each (its info-level lines, several per request, cost it more CPU than the
# requests themselves and would be the benchmarks' bottleneck).
# Its storage keeps blob descriptors in memory, as Debian's packaged configuration
# (/etc/docker/registry/config.yml) and distribution's own default both do: without it, every
# manifest HEAD and blob GET looks the blob up in storage again (bench/fleet_bench.sh: the
# registry's CPU for 10,000 HEADs was 13.5 s without, 10.3 s with).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/reg.yml" <<YAML
version: 0.1
log: $([[ "${access_log:-}" == 1 ]] && echo '{level: error, accesslog: {disabled: false}}' || echo '{level: error}')
storage: {filesystem: {rootdirectory: $work/storage}, cache: {blobdescriptor: inmemory}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done

# push_layer_image TAR CONFIG_SECTION REPO:TAG [HISTORY] — gzips TAR into a one-layer image whose
# config section is CONFIG_SECTION (JSON) and history HISTORY (a JSON list, default none), writes
# it as an OCI layout under $work/oci and copies it to the registry with skopeo. Sets `raw`
# (TAR's size), `digest` and `size` (the gzip blob's).
push_layer_image() {
  local tar=$1 section=$2 dest=$3 history=${4:-[]}
  raw=$(stat -c %s "$tar")
  local diff_id; diff_id=$(sha256sum "$tar" | cut -d' ' -f1)
  gzip -6 -n -c "$tar" >"$tar.gz"
  digest=$(sha256sum "$tar.gz" | cut -d' ' -f1)
  size=$(stat -c %s "$tar.gz")
  rm -rf "$work/oci"; mkdir -p "$work/oci/blobs/sha256"
  mv "$tar.gz" "$work/oci/blobs/sha256/$digest"
  printf '{"architecture":"amd64","os":"linux","created":"%s","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":%s,"history":%s}' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$diff_id" "$section" "$history" >"$work/config.json"
  local cd_; cd_=$(sha256sum "$work/config.json" | cut -d' ' -f1); cp "$work/config.json" "$work/oci/blobs/sha256/$cd_"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cd_" "$(stat -c %s "$work/config.json")" "$digest" "$size" >"$work/manifest.json"
  local md; md=$(sha256sum "$work/manifest.json" | cut -d' ' -f1); cp "$work/manifest.json" "$work/oci/blobs/sha256/$md"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"b"}}]}' "$md" "$(stat -c %s "$work/manifest.json")" >"$work/oci/index.json"
  skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$work/oci:b" "docker://127.0.0.1:$port/$dest"
}
