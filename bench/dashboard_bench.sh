#!/usr/bin/env bash
# Dashboard reads at fleet sizes, each against the same reads of a small store in the same run.
#
#   bash bench/dashboard_bench.sh [SMALL] [LARGE] [SECONDS]
#
# Two stores are filled through bulwarkd's own schema (the daemon creates it; rows are then
# written as a registry pass would leave them): SMALL (default 100) and LARGE (default 10,000)
# images, each with its tag, a report of 40 findings, three finished scans and a daily result
# per day of the last 30, over 1,200 shared layers. Against a release bulwarkd on each:
#   1. every dashboard endpoint, one request at a time (200 rounds, each with Cache-Control:
#      no-cache, so that the store is read every time): p50 and p99;
#   2. the same endpoints under `wrk -t2 -c16` for SECONDS (default 5), as dashboards poll
#      (an unchanged store answers from the daemon's view cache): requests per second and p99;
#   3. /healthz one request at a time while 16 connections poll /v1/stats: p50 and p99.
# Prints each LARGE figure next to its SMALL one and their ratio. Release build; never part of
# the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-100}
large=${2:-10000}
secs=${3:-5}
bash deploy/install-deps.sh
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
((${#need[@]} == 0)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
bash deploy/build.sh >/dev/null

work=$(mktemp -d)
bw_pid=
trap 'kill $bw_pid 2>/dev/null || true; rm -rf "$work"' EXIT

start_daemon() {  # DATA_DIR
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$1" >"$work/bw.out" 2>"$work/bw.err" &
  bw_pid=$!
  for _ in $(seq 200); do grep -q listening "$work/bw.out" 2>/dev/null && break; sleep 0.05; done
  api=$(sed -n 's/.*listening on //p' "$work/bw.out")
  [[ -n "$api" ]] || { cat "$work/bw.err" >&2; exit 1; }
}
stop_daemon() { kill "$bw_pid"; wait "$bw_pid" 2>/dev/null || true; bw_pid=; }

fill() {  # DATA_DIR IMAGES
  start_daemon "$1"  # creates the schema at the current version
  stop_daemon
  python3 - "$1/bulwark.db" "$2" <<'PY'
import hashlib, json, random, sqlite3, sys, datetime
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
random.seed(7)
def h(s): return "sha256:" + hashlib.sha256(s.encode()).hexdigest()
now = datetime.datetime.now(datetime.timezone.utc)
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
layers = [h(f"layer{i}") for i in range(1200)]
c.executemany("INSERT INTO layers(digest, media_type, compression, compressed_size, uncompressed_size, diff_id, entry_count, status, analyzer_version, analyzed_at, facts, path_hashes, analyzer_versions) VALUES (?, 'application/vnd.oci.image.layer.v1.tar+gzip', 'gzip', ?, ?, ?, 100, 'complete', 1, ?, '{}', x'', '{}')",
              [(d, 30_000_000, 90_000_000, h(d), iso(now)) for d in layers])
rules = ["BW-SHELL", "BW-PKGMGR", "BW-USER-ROOT", "BW-NETTOOLS", "BW-SUID", "BW-OS-EOL"]
grades = "ABCDF"
ruleset = None
for i in range(n):
    digest = h(f"image{i}")
    repo, tag = f"team{i // 5}/app", f"v{i % 5}"
    ls = [layers[0], layers[1 + i % 40], layers[41 + i % 1159]]
    seen = iso(now - datetime.timedelta(minutes=i))
    c.execute("INSERT INTO images VALUES (?, 'application/vnd.oci.image.manifest.v1+json', ?, 'linux', 'amd64', '', ?, '65532', '{}', '{}', ?, ?)",
              (digest, h(f"config{i}"), seen, seen, seen))
    c.executemany("INSERT INTO image_layers VALUES (?, ?, ?, 'application/vnd.oci.image.layer.v1.tar+gzip', 1, ?)",
                  [(digest, p, l, h(l)) for p, l in enumerate(ls)])
    c.execute("INSERT INTO tags VALUES ('registry.example', ?, ?, ?, ?, ?)", (repo, tag, digest, seen, seen))
    score = random.randint(5, 100)
    grade = grades[min(4, (100 - score) // 20)]
    findings = [{"rule_id": rules[k % len(rules)], "title": "x" * 40, "category": "attack_surface",
                 "severity": "high", "evidence": {"path": f"/usr/bin/tool{k}"}, "layer_digest": ls[k % 3],
                 "origin": "base", "suppressed": False} for k in range(40)]
    report = json.dumps({"score": score, "grade": grade, "base": {"name": "debian:12"}, "findings": findings})
    counts = json.dumps({"critical": 0, "high": 40, "medium": 0, "low": 0, "info": 0})
    top = json.dumps({"rule_id": findings[0]["rule_id"], "title": findings[0]["title"], "severity": "high"})
    c.execute("INSERT INTO image_summaries(manifest_digest, platform, registry, repository, tag, last_scanned, "
              "ruleset_version, score, grade, base, eol, severity_counts, top_finding) "
              "VALUES (?, 'linux/amd64', 'registry.example', ?, ?, ?, 'RULESET', ?, ?, 'debian:12', ?, ?, ?)",
              (digest, repo, tag, seen, score, grade, int(i % 7 == 0), counts, top))
    c.execute("INSERT INTO reports VALUES (?, 'RULESET', ?, ?, ?, ?, ?)",
              (digest, f"registry.example/{repo}:{tag}", score, grade, report, seen))
    image = f"registry.example/{repo}:{tag}"
    result = json.dumps({"score": score, "grade": grade, "verdict": "pass", "reasons": []})
    for s in range(3):
        t = iso(now - datetime.timedelta(days=s, minutes=i))
        c.execute("INSERT INTO scans(id, image, platform, status, manifest_digest, progress, created_at, started_at, finished_at, result, request_id) VALUES (?, ?, 'linux/amd64', 'done', ?, '{\"layers\":[]}', ?, ?, ?, ?, 'schedule')",
                  ("scan_" + hashlib.md5(f"{i}-{s}".encode()).hexdigest(), image, digest, t, t, t, result))
    c.executemany("INSERT OR REPLACE INTO daily_results VALUES (?, ?, ?, ?, ?, ?, 1)",
                  [(iso(now - datetime.timedelta(days=d))[:10], image, digest, score, grade,
                    iso(now - datetime.timedelta(days=d))) for d in range(30)])
# The fleet's trend rows the daemon keeps as it writes results (every image has one each day),
# and each reference's latest; the counters for /v1/stats follow the rows above by trigger.
c.execute("INSERT INTO latest_results SELECT image, score, grade, finished_at FROM daily_results d WHERE day = (SELECT max(day) FROM daily_results x WHERE x.image = d.image)")
c.execute("INSERT INTO fleet_days SELECT day, COUNT(*), SUM(scans), SUM(score) FROM daily_results GROUP BY day")
c.execute("INSERT INTO fleet_day_grades SELECT day, grade, COUNT(*) FROM daily_results GROUP BY day, grade")
c.execute("INSERT INTO fleet_day_scores SELECT day, score, COUNT(*) FROM daily_results GROUP BY day, score")
c.commit()
PY
}

# The ruleset version is the daemon's: read it once, then stamp the rows with it.
ruleset_of() { curl -fsS "$api/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ruleset_version"])'; }

endpoints=("/v1/stats" "/v1/images?limit=50" "/v1/images?sort=score&limit=10"
           "/v1/images?limit=50&cursor=LAST" "/v1/repositories?limit=50"
           "/v1/repositories/registry.example/team7/app/tags" "/v1/trends?days=30"
           "/v1/scans?limit=50" "/v1/images?q=team7/&limit=50")

declare -A p50 p99 rps wp99
measure() {  # LABEL
  local label=$1
  # A deep page: the cursor of the last page but one, as a client paging to the end holds it.
  local last
  last=$(python3 - "$api" <<'PY'
import json, sys, urllib.request, urllib.parse
api = sys.argv[1]
with urllib.request.urlopen(api + "/v1/images?sort=last_scanned&limit=2") as r:
    oldest = json.load(r)["images"]
print(urllib.parse.quote(oldest[-1]["last_scanned"] + "," + oldest[-1]["manifest_digest"], safe=""))
PY
)
  for e in "${endpoints[@]}"; do
    local path=${e/LAST/$last}
    # One at a time, asking for a fresh answer (Cache-Control: no-cache): what a read costs
    # the store.
    : >"$work/t"
    for _ in $(seq 200); do
      curl -s -o /dev/null -H 'Cache-Control: no-cache' -w '%{time_total}\n' "$api$path" >>"$work/t"
    done
    read -r a b < <(sort -n "$work/t" | awk '{v[NR]=$1} END {printf "%.2f %.2f\n", v[int(NR*0.5)]*1000, v[int(NR*0.99)]*1000}')
    p50[$label,$e]=$a; p99[$label,$e]=$b
    # Polled as dashboards poll: an unchanged store answers from the view cache.
    wrk -t2 -c16 -d"${secs}s" --latency "$api$path" >"$work/wrk" 2>&1
    rps[$label,$e]=$(awk '/Requests\/sec/ {print $2}' "$work/wrk")
    wp99[$label,$e]=$(awk '$1=="99%" {print $2}' "$work/wrk")
  done
  # Probes while dashboards poll: /healthz one at a time while 16 connections poll /v1/stats,
  # each asking for a fresh answer.
  wrk -t2 -c16 -d"$((secs + 2))s" -H 'Cache-Control: no-cache' "$api/v1/stats" >/dev/null 2>&1 &
  local wrk_pid=$!
  sleep 1
  : >"$work/h"
  for i in $(seq 300); do curl -s -o /dev/null -w '%{time_total}\n' "$api/healthz" >>"$work/h"; done
  wait "$wrk_pid" || true
  read -r a b < <(sort -n "$work/h" | awk '{v[NR]=$1} END {printf "%.2f %.2f\n", v[int(NR*0.5)]*1000, v[int(NR*0.99)]*1000}')
  p50[$label,healthz]=$a; p99[$label,healthz]=$b
}

for size in "$small" "$large"; do
  dir="$work/data-$size"
  echo "filling a store of $size images…" >&2
  fill "$dir" "$size"
  start_daemon "$dir"
  rs=$(ruleset_of)
  stop_daemon
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [c.execute(f'UPDATE {t} SET ruleset_version=? WHERE ruleset_version=\"RULESET\"', (sys.argv[2],)) for t in ('image_summaries','reports')]; c.commit()" "$dir/bulwark.db" "$rs"
  start_daemon "$dir"
  echo "measuring $size images ($(du -m "$dir/bulwark.db" | cut -f1) MB)…" >&2
  measure "$size"
  stop_daemon
done

printf '\n%-52s %22s %22s %8s %22s %22s\n' "endpoint" "p50/p99 ms @$small" "p50/p99 ms @$large" "p50 ×" "wrk req/s, p99 @$small" "wrk req/s, p99 @$large"
for e in "${endpoints[@]}" healthz; do
  ratio=$(awk -v a="${p50[$small,$e]}" -v b="${p50[$large,$e]}" 'BEGIN {printf "%.2f", (a > 0 ? b / a : 0)}')
  label=$e; [[ $e == healthz ]] && label="/healthz while 16 connections poll /v1/stats"
  printf '%-52s %22s %22s %8s %22s %22s\n' "$label" "${p50[$small,$e]} / ${p99[$small,$e]}" \
    "${p50[$large,$e]} / ${p99[$large,$e]}" "$ratio" "${rps[$small,$e]:--} ${wp99[$small,$e]:-}" \
    "${rps[$large,$e]:--} ${wp99[$large,$e]:-}"
done
