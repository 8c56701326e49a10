#!/usr/bin/env bash
# Scheduled rescans of a company registry: three passes over REPOS × TAGS tags, against the first.
#
#   bash bench/fleet_bench.sh [REPOS] [TAGS]
#
# A docker-registry on loopback is filled by writing its own storage layout (blobs, repository
# links, tags) rather than by pushing: REPOS (default 2,000) repositories of TAGS (default 5)
# tags, each image one of two shared base layers (a few MB of /etc, /usr/bin and a dpkg status)
# and a small app layer of its own. Then a release bulwarkd with one schedule of that registry
# (every repository, every tag) is started three times on the same data directory; each start
# runs a pass, which ends when its scans are queued and none is left queued or running:
#   1. first pass: every tag new;
#   2. unchanged pass: the same registry again;
#   3. 1 % pass: one tag in a hundred moved to a new image first.
# For each pass: wall time, bulwarkd's and the registry's CPU, registry requests per tag (manifests, blobs) from the
# registry's access log, the database's size once the daemon stopped, and how fast bulwarkd
# answers a liveness probe meanwhile (GET /healthz on a new connection every 50 ms: p50, p99 and
# max; the goal is p99 <= 20 ms). Beside them, in the
# same run, the floor of an unchanged pass: a client that lists the tags and HEADs each one and
# does nothing else. The unchanged pass and the floor run FLEET_ROUNDS times (default 3), one
# after the other, and the medians are compared: on a shared machine one round of either can
# take a quarter longer than the next for the same work. The goals: unchanged pass <= 30 s and
# <= 10 % of the first's wall; database within 5 % after three passes.
# FLEET_PERF=FILE records a CPU profile of the unchanged pass with perf. Release build; never part
# of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repos=${1:-2000}
tags=${2:-5}
bash deploy/install-deps.sh --demo
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
reg_pid= bw_pid=
trap 'kill $reg_pid $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# The registry's filesystem layout: blobs by digest, and per repository the links that make a
# blob, a manifest revision and a tag visible there.
cat >"$work/layout.py" <<'PY'
import hashlib, os, sys
root, repos, tags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v2 = os.path.join(root, "docker", "registry", "v2")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(v2, "blobs", "sha256", d[:2], d)
    if not os.path.exists(p):
        os.makedirs(p, exist_ok=True)
        with open(os.path.join(p, "data"), "wb") as f: f.write(data)
    return d
def link(path, d):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f: f.write("sha256:" + d)
PY

echo "writing $((repos * tags)) tags into the registry's storage…" >&2
PYTHONPATH="$work" python3 - "$work/storage" "$repos" "$tags" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
from layout import blob, link, repos, tags, v2
def layer(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    raw = b.getvalue()
    gz = gzip.compress(raw, 6, mtime=0)
    return {"digest": blob(gz), "size": len(gz), "diff": hashlib.sha256(raw).hexdigest()}
def read(path):
    try: return open(path, "rb").read()
    except OSError: return b""
base_files = [("etc/os-release", read("/etc/os-release"), 0o644), ("etc/passwd", read("/etc/passwd"), 0o644),
              ("etc/group", read("/etc/group"), 0o644), ("var/lib/dpkg/status", read("/var/lib/dpkg/status"), 0o644)]
for tool in ("bash", "sh", "ls", "cat", "apt-get", "dpkg", "curl"):
    data = read(f"/usr/bin/{tool}")
    if data: base_files.append((f"usr/bin/{tool}", data, 0o755))
bases = [layer(base_files), layer(base_files + [("usr/bin/su", read("/usr/bin/su"), 0o4755)])]
def image(repo, tag, generation):
    base = bases[hash(repo) % 2]
    app = layer([(f"app/{repo}/{tag}", f"{repo}:{tag} generation {generation}\n".encode(), 0o644)])
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                      "config": {"User": "65532", "Cmd": ["/app/run"]},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + base["diff"], "sha256:" + app["diff"]]}}).encode()
    cd = blob(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + l["digest"], "size": l["size"]} for l in (base, app)]}).encode()
    md = blob(man)
    r = os.path.join(v2, "repositories", repo)
    for d in (base["digest"], app["digest"], cd): link(os.path.join(r, "_layers", "sha256", d), d)
    link(os.path.join(r, "_manifests", "revisions", "sha256", md), md)
    link(os.path.join(r, "_manifests", "tags", tag, "current"), md)
    link(os.path.join(r, "_manifests", "tags", tag, "index", "sha256", md), md)
for i in range(repos):
    for t in range(tags):
        image(f"fleet/team{i:05d}/app", f"v{t}", 0)
PY

access_log=1
source tests/support/registry.sh
registry="127.0.0.1:$port"
cat >"$work/bulwark.json" <<JSON
{"schedules": [{"registry": "$registry", "tags": ["*"], "max_tags_per_repository": $tags,
                "interval_minutes": 1440}]}
JSON

declare -a wall cpu regcpu manifests blobs dbsize
proc_cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / t}' "/proc/$1/stat"; }
pass() {  # N
  local n=$1 before
  # What the last pass wrote is on disk first: round 1's unchanged pass used to start while the
  # kernel still wrote back the first pass's 150 MB, and its floor (run after it) did not.
  sync
  before=$(wc -l <"$work/reg.log")
  local reg_before; reg_before=$(proc_cpu "$reg_pid")
  local t0; t0=$(date +%s.%N)
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/data" --config "$work/bulwark.json" \
    >"$work/bw.out" 2>"$work/bw.err" &
  bw_pid=$!
  # FLEET_PERF=FILE: a CPU profile of the unchanged pass (perf record), for finding its cost.
  local perf_pid=
  if [[ -n "${FLEET_PERF:-}" && $n == 2 ]]; then
    perf record -q -F 499 ${FLEET_PERF_CALLS:--g} -p "$bw_pid" -o "$FLEET_PERF" 2>/dev/null &
    perf_pid=$!
  fi
  for _ in $(seq 400); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
  local api; api=$(sed -n 's/.*listening on //p' "$work/bw.out")
  # Done: the schedule has queued its scans and nothing is queued or running. One poller for the
  # whole pass: a new interpreter per poll would take the CPU the registry and bulwarkd share.
  # Beside it, a liveness probe as an orchestrator sends one: GET /healthz on a new connection
  # every 50 ms until the pass is done, each answer's time (ms) added to $work/healthz.N.
  python3 - "$api" "$work/healthz.$n" <<'PY'
import http.client, json, sys, threading, time, urllib.parse, urllib.request
api, out = sys.argv[1], sys.argv[2]
def get(p):
    req = urllib.request.Request(api + p, headers={"Cache-Control": "no-cache"})
    return json.load(urllib.request.urlopen(req, timeout=30))
done, probes = threading.Event(), []
def probe():
    host = urllib.parse.urlsplit(api).netloc
    while not done.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection(host, timeout=30)
            c.request("GET", "/healthz")
            r = c.getresponse(); r.read(); c.close()
            ok = r.status == 200
        except OSError:
            ok = False
        # A probe that failed is listed with its time and counted apart.
        probes.append(f"{(time.monotonic() - t0) * 1000:.2f}{'' if ok else ' failed'}")
        done.wait(0.05)
prober = threading.Thread(target=probe)
prober.start()
deadline = time.monotonic() + 18000
try:
    while time.monotonic() < deadline:
        s = get("/v1/schedules")["schedules"][0]
        q = get("/v1/stats")["queue"]
        if s.get("runs", 0) >= 1 and "scans_queued" in s and q["queued"] == 0 and q["running"] == 0:
            break
        time.sleep(0.25)
finally:
    # A poll that failed still stops the probe, so that the bench ends with the error.
    done.set()
    prober.join()
with open(out, "a") as f:
    f.writelines(p + "\n" for p in probes)
PY
  wall[$n]=$(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$t0")
  cpu[$n]=$(proc_cpu "$bw_pid")
  regcpu[$n]=$(awk -v a="$(proc_cpu "$reg_pid")" -v b="$reg_before" 'BEGIN {printf "%.1f", a - b}')
  if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=
  local total=$((repos * tags))
  manifests[$n]=$(tail -n +"$((before + 1))" "$work/reg.log" | grep -c '"\(GET\|HEAD\) /v2/[^ ]*/manifests/' || true)
  blobs[$n]=$(tail -n +"$((before + 1))" "$work/reg.log" | grep -c '"GET /v2/[^ ]*/blobs/' || true)
  manifests[$n]=$(awk -v a="${manifests[$n]}" -v t="$total" 'BEGIN {printf "%.2f", a / t}')
  blobs[$n]=$(awk -v a="${blobs[$n]}" -v t="$total" 'BEGIN {printf "%.3f", a / t}')
  dbsize[$n]=$(du -cm "$work/data"/bulwark.db* | tail -1 | cut -f1)
  grep -c "scan failed" "$work/bw.err" >"$work/failed.$n" || true
}

echo "pass 1: every tag new…" >&2
pass 1
# The floor of an unchanged pass, on the same registry: a client that only lists the catalog and
# every repository's tags and sends one HEAD per tag (eight at a time, kept-alive connections),
# as any tool that learns each tag's digest must.
floor_run() {
  sync
  local reg_before; reg_before=$(proc_cpu "$reg_pid")
  floor=$(python3 - "127.0.0.1:$port" <<'PY'
import http.client, json, queue, sys, threading, time
host = sys.argv[1]
accept = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])
t0 = time.monotonic()
c = http.client.HTTPConnection(host)
repos, last = [], ""
while True:
    c.request("GET", f"/v2/_catalog?n=1000&last={last}")
    page = json.loads(c.getresponse().read())["repositories"] or []
    repos += page
    if len(page) < 1000: break
    last = page[-1]
work, heads = queue.Queue(), [0]
for r in repos: work.put(r)
def worker():
    conn = http.client.HTTPConnection(host)
    while True:
        try: r = work.get_nowait()
        except queue.Empty: return
        conn.request("GET", f"/v2/{r}/tags/list")
        for t in json.loads(conn.getresponse().read())["tags"]:
            conn.request("HEAD", f"/v2/{r}/manifests/{t}", headers={"Accept": accept})
            resp = conn.getresponse(); resp.read()
            assert resp.getheader("Docker-Content-Digest")
            heads[0] += 1
threads = [threading.Thread(target=worker) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(f"{time.monotonic() - t0:.1f} {heads[0]}")
PY
)
  floor_wall=${floor% *}
  floor_regcpu=$(awk -v a="$(proc_cpu "$reg_pid")" -v b="$reg_before" 'BEGIN {printf "%.1f", a - b}')
}

declare -a round_wall round_cpu round_regcpu round_floor round_floor_regcpu
rounds=${FLEET_ROUNDS:-3}
for r in $(seq "$rounds"); do
  echo "round $r of $rounds: pass 2 (unchanged), then the floor (listing and one HEAD per tag)…" >&2
  pass 2
  FLEET_PERF=  # the profile is of the first round
  round_wall[$r]=${wall[2]} round_cpu[$r]=${cpu[2]} round_regcpu[$r]=${regcpu[2]}
  floor_run
  round_floor[$r]=$floor_wall round_floor_regcpu[$r]=$floor_regcpu
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
wall[2]=$(median "${round_wall[@]}") cpu[2]=$(median "${round_cpu[@]}") regcpu[2]=$(median "${round_regcpu[@]}")
floor_wall=$(median "${round_floor[@]}") floor_regcpu=$(median "${round_floor_regcpu[@]}")

echo "moving 1 % of the tags to new images…" >&2
PYTHONPATH="$work" python3 - "$work/storage" "$repos" "$tags" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
from layout import blob, link, repos, tags, v2
moved = 0
for i in range(0, repos * tags, 100):
    repo, tag = f"fleet/team{i // tags:05d}/app", f"v{i % tags}"
    r = os.path.join(v2, "repositories", repo)
    old = open(os.path.join(r, "_manifests", "tags", tag, "current", "link")).read().split(":")[1]
    man = json.loads(open(os.path.join(v2, "blobs", "sha256", old[:2], old, "data"), "rb").read())
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        data = f"{repo}:{tag} generation 1\n".encode()
        ti = tarfile.TarInfo(f"app/{repo}/{tag}"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    raw = b.getvalue(); gz = gzip.compress(raw, 6, mtime=0)
    app = blob(gz)
    cfg_old = man["config"]["digest"].split(":")[1]
    cfg = json.loads(open(os.path.join(v2, "blobs", "sha256", cfg_old[:2], cfg_old, "data"), "rb").read())
    cfg["rootfs"]["diff_ids"][1] = "sha256:" + hashlib.sha256(raw).hexdigest()
    cfg_b = json.dumps(cfg).encode(); cd = blob(cfg_b)
    man["config"] = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(cfg_b)}
    man["layers"][1] = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + app, "size": len(gz)}
    man_b = json.dumps(man).encode(); md = blob(man_b)
    for d in (app, cd): link(os.path.join(r, "_layers", "sha256", d), d)
    link(os.path.join(r, "_manifests", "revisions", "sha256", md), md)
    link(os.path.join(r, "_manifests", "tags", tag, "current"), md)
    link(os.path.join(r, "_manifests", "tags", tag, "index", "sha256", md), md)
    moved += 1
print(f"moved {moved} tags", file=sys.stderr)
PY
echo "pass 3: 1 % changed…" >&2
pass 3

printf '\n%-22s %10s %14s %16s %22s %20s %12s %8s\n' "pass ($((repos * tags)) tags)" "wall s" "bulwarkd CPU s" "registry CPU s" "manifest reqs per tag" "blob GETs per tag" "database MB" "failed"
for n in 1 2 3; do
  label=$([[ $n == 1 ]] && echo "1: first" || ([[ $n == 2 ]] && echo "2: unchanged" || echo "3: 1 % changed"))
  printf '%-22s %10s %14s %16s %22s %20s %12s %8s\n' "$label" "${wall[$n]}" "${cpu[$n]}" "${regcpu[$n]}" "${manifests[$n]}" \
    "${blobs[$n]}" "${dbsize[$n]}" "$(cat "$work/failed.$n")"
done
printf '%-22s %10s %14s %16s %22s\n' "floor: HEAD per tag" "$floor_wall" "-" "$floor_regcpu" "1.00 (${floor#* } HEADs)"
# The probes of pass N (of every round, for pass 2): "p50 / p99 / max ms (probes, failed)".
healthz_line() {
  sort -g "$work/healthz.$1" | awk '{ v[NR] = $1; if ($2 == "failed") failed++ } END {
    i = int(0.99 * NR) + 1; if (i > NR) i = NR
    printf "%.1f / %.1f / %.1f (%d, %d failed)", v[int((NR + 1) / 2)], v[i], v[NR], NR, failed }'
}
echo "GET /healthz every 50 ms on a new connection while a pass runs, p50 / p99 / max ms (probes, failed); goal: p99 <= 20 ms"
echo "  pass 1, first:                     $(healthz_line 1)"
echo "  pass 2, unchanged ($rounds rounds pooled): $(healthz_line 2)"
echo "  pass 3, 1 % changed:               $(healthz_line 3)"
for r in $(seq "$rounds"); do
  awk -v r="$r" -v a="${round_wall[$r]}" -v c="${round_cpu[$r]}" -v f="${round_floor[$r]}" -v b="${wall[1]}" 'BEGIN {
    printf "round %d: unchanged pass %.1f s (bulwarkd CPU %.1f s), floor %.1f s: %.2fx the floor, %.1f %% of the first\n",
           r, a, c, f, a / f, 100 * a / b }'
done
echo "(pass 2 and the floor above: the medians of the $rounds rounds)"
awk -v a="${wall[2]}" -v f="$floor_wall" 'BEGIN {
  printf "unchanged pass: %.2fx the floor (a client that only lists the tags and HEADs each one)\n", a / f }'
awk -v a="${wall[2]}" -v b="${wall[1]}" -v d1="${dbsize[1]}" -v d3="${dbsize[3]}" 'BEGIN {
  printf "unchanged pass: %.1f %% of the first (goal <= 10 %%, <= 30 s); database after the last pass: %+.1f %% of the first (goal within 5 %% after three)\n",
         100 * a / b, 100 * (d3 - d1) / d1 }'
