#!/usr/bin/env bash
# Replicas on one PostgreSQL against one bulwarkd, in one run, on this machine:
#   bash bench/replicas_bench.sh [IMAGES]
# Pushes IMAGES (default 300) images sharing a 40 MB base to a docker-registry on loopback, then
# scans them all, submitted at once, after a warm-up of BENCH_WARM (default 150) other images on the same daemons
# (their connections open, the base layer analysed: the steady state a running fleet is in), (a) through 1 bulwarkd on PostgreSQL, (b) through 2 and
# (c) 3 replicas on other databases (round-robin), and (d) through 1 bulwarkd on SQLite,
# reporting images per second, the blob GETs the registry served and, for PostgreSQL, the
# commits per scan and how many of them wrote (pg_stat_database's xact_commit counts every
# statement run outside a transaction, reads too; a transaction that writes takes a transaction
# id, counted across the cluster: the other runs' idle replicas included) and rows read per
# scan (pg_stat_database: tup_returned + tup_fetched; and
# of those, the rows and index entries read in Bulwark's tables, from pg_stat_all_tables),
# and the CPU time each part spent per image (the daemons, this PostgreSQL's processes, the
# registry: on 2 cores they share the same CPUs, so the registry's serving bounds every run);
# BENCH_PG_STATEMENTS=FILE also logs every statement PostgreSQL runs to FILE, to see what a
# scan's commits are (BENCH_PG_OPTS adds server options, such as auto_explain's to log the plans
# too); BENCH_PG_TABLES=1 also prints, for each PostgreSQL run, the rows read per scan
# in each table (pg_stat_all_tables and pg_stat_all_indexes: rows and index entries read);
# BENCH_PG_TOP=N prints, for each PostgreSQL run, the N statements that took the most of
# PostgreSQL's time per scan (pg_stat_statements, planning included: calls, plan and execution
# time per scan);
# then leaves the three replicas idle for BENCH_IDLE seconds (default 10) and prints what their
# polls cost PostgreSQL (the same counts, per second per replica); each count first waits
# BENCH_PG_SETTLE seconds (default 11) for the backends to flush their statistics;
# then times `bulwarkd migrate-store` copying the SQLite run's data into an empty PostgreSQL;
# then, with every daemon above stopped, times 2 replicas against 1 bulwarkd on SQLite over
# BENCH_ROUNDS (default 3) rounds, each on fresh stores (the same images, new to them), the
# order alternating, and prints the median ratio: one run is a window of two seconds, and on
# this shared machine one window differs from the next by a tenth; with BENCH_SOCKET=1 each round
# also runs the 2 replicas reaching PostgreSQL through its Unix socket (how a daemon on the
# database's own host reaches it) instead of loopback TCP, and prints that median too; last, on 2 fresh replicas,
# scans one at a time, each submitted to one replica and waited for on both at once: how much
# later the replica that did not run it answers (the store announces each end to the other
# replicas). PostgreSQL 15 runs as an unprivileged user in a temporary directory. Release
# build; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-300}
warm=${BENCH_WARM:-150}
bash deploy/install-deps.sh --test >/dev/null
bash deploy/build.sh >/dev/null
work=$(mktemp -d)
reg_pid= pids=()
pg=/usr/lib/postgresql/15/bin
chmod 755 "$work"
mkdir -p "$work/pg" && chown postgres: "$work/pg" 2>/dev/null || true
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  # The daemons first, each waited for (ten seconds, then SIGKILL), then their database.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  as_pg "$pg/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  [[ -n ${BENCH_PG_STATEMENTS:-} ]] && cp "$work/pg/log" "$BENCH_PG_STATEMENTS"
  kill $reg_pid 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
access_log=1
source tests/support/registry.sh
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pg/initdb" -D "$work/pg/data" -U bulwark --auth=trust --no-sync >/dev/null
pg_opts="-h 127.0.0.1 -p $pg_port -k $work/pg -c fsync=off"
[[ -n ${BENCH_PG_STATEMENTS:-} ]] && pg_opts+=" -c log_statement=all -c log_line_prefix=%d:%p:"
[[ -n ${BENCH_PG_TOP:-} ]] &&
  pg_opts+=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
pg_opts+=" ${BENCH_PG_OPTS:-}"
as_pg "$pg/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "$pg_opts" start >/dev/null
db() { psql -q -X "postgresql://bulwark@127.0.0.1:$pg_port/postgres" -c "CREATE DATABASE $1"; echo "postgresql://bulwark@127.0.0.1:$pg_port/$1"; }
admin() { psql -q -X -t -A -F' ' "postgresql://bulwark@127.0.0.1:$pg_port/postgres" -c "$1"; }
[[ -n ${BENCH_PG_TOP:-} ]] && admin "CREATE EXTENSION pg_stat_statements"
# top_statements NAME: BENCH_PG_TOP's lines for database NAME since the last reset_statements.
top_statements() {
  [[ -n ${BENCH_PG_TOP:-} ]] || return 0
  echo "  calls/scan plan-ms/scan exec-ms/scan statement"
  admin "SELECT to_char(calls::float / $images, '990.00'), to_char(total_plan_time / $images, '90.000'),
           to_char(total_exec_time / $images, '90.000'), left(regexp_replace(query, '\s+', ' ', 'g'), 110)
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1')
         ORDER BY total_plan_time + total_exec_time DESC LIMIT ${BENCH_PG_TOP}"
  admin "SELECT to_char(sum(calls)::float / $images, '990.00'), to_char(sum(total_plan_time) / $images, '90.000'),
           to_char(sum(total_exec_time) / $images, '90.000'), 'all statements'
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1')"
}
reset_statements() { [[ -z ${BENCH_PG_TOP:-} ]] || admin "SELECT pg_stat_statements_reset()" >/dev/null; }

# The images: one base layer of 40 MB of libraries, one small layer each.
mkdir -p "$work/base"
(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -printf '%s %p\n' | sort -n | awk '{t+=$1; if (t>40e6) exit; print $2}') >"$work/list"
tar --numeric-owner -cf "$work/base.tar" -T "$work/list" 2>/dev/null
for i in $(seq $((images + warm))); do
  mkdir -p "$work/app$i/app" && head -c 4096 /dev/urandom >"$work/app$i/app/server$i"
  tar --numeric-owner -C "$work/app$i" -cf "$work/app$i.tar" app
done
push_two_layer() {  # push_two_layer N: base + app layer N as fleet/app-N:1
  local n=$1
  local base_gz="$work/base.tar.gz" app_gz="$work/app$1.tar.gz"
  [[ -f "$base_gz" ]] || gzip -1 -n -c "$work/base.tar" >"$base_gz"
  gzip -1 -n -c "$work/app$n.tar" >"$app_gz"
  rm -rf "$work/oci" && mkdir -p "$work/oci/blobs/sha256"
  local layers="" diffs="" f
  for f in base.tar app$n.tar; do
    local gz="$work/$f.gz"
    local d s diff
    d=$(sha256sum "$gz" | cut -d' ' -f1); s=$(stat -c %s "$gz"); diff=$(sha256sum "$work/$f" | cut -d' ' -f1)
    cp "$gz" "$work/oci/blobs/sha256/$d"
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s}"
    diffs+="${diffs:+,}\"sha256:$diff\""
  done
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]},"config":{"User":"1000"}}' "$diffs" >"$work/config.json"
  local c cs m
  c=$(sha256sum "$work/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$work/config.json"); cp "$work/config.json" "$work/oci/blobs/sha256/$c"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$c" "$cs" "$layers" >"$work/manifest.json"
  m=$(sha256sum "$work/manifest.json" | cut -d' ' -f1); cp "$work/manifest.json" "$work/oci/blobs/sha256/$m"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"b"}}]}' "$m" "$(stat -c %s "$work/manifest.json")" >"$work/oci/index.json"
  skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$work/oci:b" "docker://127.0.0.1:$port/fleet/app-$n:1"
}
for i in $(seq $((images + warm))); do push_two_layer "$i"; done

stop_daemons() {  # every daemon started so far, each waited for
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
start_daemon() {  # start_daemon NAME STORE: sets `api`; not in a subshell, so that pids keeps it
  ./build/server/bulwarkd --listen 127.0.0.1:0 --data-dir "$work/$1" --store "$2" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$1.out" 2>/dev/null && break; sleep 0.05; done
  api=$(sed -n 's/.*listening on //p' "$work/$1.out")
}
# Rows and index entries read so far in each table of database NAME: "table count kind" lines,
# kind "bulwark" for Bulwark's tables and their out-of-line (TOAST) parts, "catalog" for the
# system catalogs (read by autovacuum's workers and by sessions reloading their caches after it);
# then "  table.index count index" lines, the index entries read in each of Bulwark's indexes.
# (The catalogs' figures include the first of these queries' own reads.)
table_reads() {
  psql -q -X -t -A -F' ' "postgresql://bulwark@127.0.0.1:$pg_port/$1" -c "
    SELECT coalesce(o.relname || '(toast)', t.relname),
           t.seq_tup_read + coalesce(t.idx_tup_fetch, 0)
           + coalesce((SELECT sum(i.idx_tup_read) FROM pg_stat_all_indexes i WHERE i.relid = t.relid), 0),
           CASE WHEN coalesce(o.relnamespace::regnamespace::text, t.schemaname) = 'public'
                THEN 'bulwark' ELSE 'catalog' END
    FROM pg_stat_all_tables t LEFT JOIN pg_class o ON o.reltoastrelid = t.relid
    UNION ALL SELECT '  ' || relname || '.' || indexrelname, idx_tup_read, 'index'
    FROM pg_stat_user_indexes"
}
# pg_stat_database's counters of database NAME: "commits rows-read".
db_counts() {
  psql -q -X -t -A -F' ' "postgresql://bulwark@127.0.0.1:$pg_port/postgres" \
    -c "SELECT xact_commit, tup_returned + tup_fetched FROM pg_stat_database WHERE datname = '$1'"
}
# The cluster's next transaction id, taking one: only a transaction that writes is given one,
# so the difference of two is the writing transactions between them, plus one.
xid_now() { admin "SELECT pg_current_xact_id()::text"; }
# Before and after a run, database NAME's "commits rows-read bulwark-rows-read xid", its tables'
# reads kept in $work/NAME.before and $work/NAME.after. table_reads' own session reads catalogs
# in NAME: it runs before the first count of pg_stat_database and after the second, so that
# they do not count what it read.
# A busy backend flushes its counts at most once a second, and one that then goes idle keeps
# what it has not flushed for up to 10 s (PostgreSQL 15): each count waits that long first, so
# that the warm-up's reads are all in before the run and the run's all in after it. The window
# then holds the run and BENCH_PG_SETTLE (default 11) seconds of the idle replicas' polls.
pg_settle=${BENCH_PG_SETTLE:-11}
settle() { sleep "$pg_settle"; }
bulwark_sum() { awk '$3 == "bulwark" { s += $2 } END { print s + 0 }' "$@"; }  # of table_reads' lines
counts_before() {
  settle
  table_reads "$1" >"$work/$1.before"
  echo "$(db_counts "$1") $(bulwark_sum "$work/$1.before") $(xid_now)"
}
counts_after() {
  settle
  local db xid; xid=$(xid_now); db=$(db_counts "$1")
  table_reads "$1" >"$work/$1.after"
  echo "$db $(bulwark_sum "$work/$1.after") $xid"
}
per_table() {  # per_table NAME: rows read per scan in each table in the run, most first
  awk -v n="$images" 'NR == FNR { was[$1] = $2; next }
    { d = ($2 - was[$1]) / n; if (d >= 0.05) printf "  %-44s %6.1f %s\n", $1, d, $3 }' \
    "$work/$1.before" "$work/$1.after" | sort -k2 -n -r
}
# CPU seconds so far of the daemons started, this PostgreSQL's processes (the postmaster and its
# children) and the registry: "daemons postgres registry".
cpu_now() {
  python3 - "$(head -1 "$work/pg/data/postmaster.pid")" "$reg_pid" "${pids[@]}" <<'PY'
import os, sys
tick = os.sysconf('SC_CLK_TCK')
def stat(pid):
    try:
        st = open(f'/proc/{pid}/stat').read()
    except OSError:
        return None
    f = st[st.rindex(')') + 2:].split()
    return int(f[1]), (int(f[11]) + int(f[12])) / tick  # ppid, utime + stime
postmaster, registry, daemons = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
pg = 0.0
for p in filter(str.isdigit, os.listdir('/proc')):
    s = stat(p)
    if s and (int(p) == postmaster or s[0] == postmaster): pg += s[1]
print(sum((stat(p) or (0, 0))[1] for p in daemons), pg, (stat(registry) or (0, 0))[1])
PY
}
cpu_per_image() {  # cpu_per_image LABEL BEFORE: the CPU each part spent per image since BEFORE
  local after; after=$(cpu_now)
  awk -v l="$1" -v n="$images" -v b="$2" -v a="$after" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    printf "%s: CPU per image %.2f ms daemons, %.2f ms PostgreSQL, %.2f ms registry\n", l,
      (y[1] - x[1]) * 1000 / n, (y[2] - x[2]) * 1000 / n, (y[3] - x[3]) * 1000 / n }'
}
per_scan() {  # per_scan LABEL NAME BEFORE: commits and rows read per scan since BEFORE
  local after; after=$(counts_after "$2")
  awk -v l="$1" -v n="$images" -v b="$3" -v a="$after" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    printf "%s: per scan %.1f commits (%.1f of them writes), %.0f rows read (pg_stat_database), %.0f in Bulwark tables\n", l,
      (y[1] - x[1]) / n, (y[4] - x[4] - 1) / n, (y[2] - x[2]) / n, (y[3] - x[3]) / n }'
}
scan_all() {  # scan_all LABEL FIRST COUNT API... : submits images FIRST.. round-robin, waits for all
  python3 - "$1" "127.0.0.1:$port" "$2" "$3" "${@:4}" <<'PY'
import json, sys, time, urllib.request
label, registry, first, n, apis = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
def call(api, method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body else None)
    return json.load(urllib.request.urlopen(req, timeout=300))
t0 = time.monotonic()
ids = [(apis[i % len(apis)], call(apis[i % len(apis)], "POST", "/v1/scans", {"image": f"{registry}/fleet/app-{first+i}:1"})["id"]) for i in range(n)]
for k, (api, sid) in enumerate(ids):
    s = call(apis[(k + 1) % len(apis)], "GET", f"/v1/scans/{sid}?wait=300")
    assert s["status"] == "done", s
took = time.monotonic() - t0
if label: print(f"{label:28} {n} images in {took:6.2f} s = {n/took:6.2f} images/s")
PY
}
warm_up() {  # warm_up API... : the warm-up images, not measured
  scan_all "" $((images + 1)) "$warm" "$@"
}
run() {  # run LABEL API... : submits every image round-robin, waits for all, prints the figures
  local label=$1; shift
  local before; before=$(grep -c 'GET /v2/fleet/.*/blobs/' "$work/reg.log" || true)
  local cpu_before; cpu_before=$(cpu_now)
  scan_all "$label" 1 "$images" "$@"
  local after; after=$(grep -c 'GET /v2/fleet/.*/blobs/' "$work/reg.log" || true)
  # The base layer was fetched by the warm-up.
  echo "$label: blob GETs $((after - before)) (distinct blobs: $((images * 2)))"
  cpu_per_image "$label" "$cpu_before"
}
one=$(db one); two=$(db two); three=$(db three)
start_daemon a "$one"
warm_up "$api"
before=$(counts_before one)
reset_statements
run "1 replica (PostgreSQL)" "$api"
per_scan "1 replica (PostgreSQL)" one "$before"
top_statements one
[[ -n ${BENCH_PG_TABLES:-} ]] && { echo "1 replica (PostgreSQL): rows read per scan by table"; per_table one; }
start_daemon c1 "$two"; c1=$api
start_daemon c2 "$two"; c2=$api
warm_up "$c1" "$c2"
before=$(counts_before two)
reset_statements
run "2 replicas (PostgreSQL)" "$c1" "$c2"
per_scan "2 replicas (PostgreSQL)" two "$before"
top_statements two
[[ -n ${BENCH_PG_TABLES:-} ]] && { echo "2 replicas (PostgreSQL): rows read per scan by table"; per_table two; }
start_daemon b1 "$three"; b1=$api
start_daemon b2 "$three"; b2=$api
start_daemon b3 "$three"; b3=$api
warm_up "$b1" "$b2" "$b3"
before=$(counts_before three)
reset_statements
run "3 replicas (PostgreSQL)" "$b1" "$b2" "$b3"
per_scan "3 replicas (PostgreSQL)" three "$before"
top_statements three
[[ -n ${BENCH_PG_TABLES:-} ]] && { echo "3 replicas (PostgreSQL): rows read per scan by table"; per_table three; }
# The same three replicas left idle for BENCH_IDLE seconds (default 10): what their polls cost.
# The run's counts are all in (counts_after settled); the window is BENCH_IDLE + the settle.
idle=${BENCH_IDLE:-10}
# table_reads' own session (a new backend reading the statistics views, all of them catalog
# reads in `three`) runs outside the window: before its first count and after its second.
r0=$(table_reads three | bulwark_sum); d0=$(db_counts three)
sleep "$idle"
settle
d1=$(db_counts three); r1=$(table_reads three | bulwark_sum)
awk -v s="$((idle + pg_settle))" -v b="$d0 $r0" -v a="$d1 $r1" 'BEGIN {
  split(b, x, " "); split(a, y, " ");
  printf "3 replicas idle for %d s: per replica per second %.2f commits, %.1f rows read (pg_stat_database), %.1f in Bulwark tables\n",
    s, (y[1] - x[1]) / s / 3, (y[2] - x[2]) / s / 3, (y[3] - x[3]) / s / 3 }'
# The copy of a SQLite store: the same images scanned into SQLite, then migrate-store.
start_daemon s ""
warm_up "$api"
run "1 replica (SQLite)" "$api"
copy=$(db copy)
t0=$(date +%s.%N)
./build/server/bulwarkd migrate-store --from "sqlite:$work/s/bulwark.db" --to "$copy" | tr '\n' ' '
t1=$(date +%s.%N)
python3 -c "import sys; print(f'\nmigrate-store: {float(sys.argv[2])-float(sys.argv[1]):.2f} s, SQLite store {int(sys.argv[3])/1e6:.1f} MB')" "$t0" "$t1" "$(du -sb "$work/s" | cut -f1)"
# 2 replicas against 1 bulwarkd on SQLite, round by round on fresh stores, nothing else running.
stop_daemons
round_rate() {  # round_rate sqlite|postgresql|socket ROUND: sets `rate`, images per second of one fresh run
  local apis=()
  if [[ $1 == sqlite ]]; then
    start_daemon "sqlite$2" ""; apis=("$api")
  else
    local url; url=$(db "$1$2")
    [[ $1 == socket ]] && url="postgresql://bulwark@/$1$2?host=$work/pg&port=$pg_port"
    start_daemon "pa$1$2" "$url"; apis=("$api")
    start_daemon "pb$1$2" "$url"; apis+=("$api")
  fi
  warm_up "${apis[@]}"
  scan_all "-" 1 "$images" "${apis[@]}" >"$work/round"
  stop_daemons
  rate=$(awk '{ print $(NF - 1) }' "$work/round")
}
ratio() { awk -v p="$1" -v s="$2" 'BEGIN { printf "%.2f", p / s }'; }
median() {  # median LABEL RATIO...
  local label=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v l="$label" '{ r[NR] = $1 } END {
    printf "%s / 1 replica (SQLite), median of %d rounds: %.2fx\n", l, NR, r[int((NR + 1) / 2)] }'
}
ratios=() socket_ratios=()
for r in $(seq "${BENCH_ROUNDS:-3}"); do
  kinds=(sqlite postgresql)
  ((r % 2)) || kinds=(postgresql sqlite)
  [[ -n ${BENCH_SOCKET:-} ]] && kinds+=(socket)
  for kind in "${kinds[@]}"; do
    round_rate "$kind" "$r"
    case $kind in sqlite) s_rate=$rate ;; postgresql) p_rate=$rate ;; socket) u_rate=$rate ;; esac
  done
  ratios+=("$(ratio "$p_rate" "$s_rate")")
  line="round $r: 1 replica (SQLite) $s_rate images/s, 2 replicas (PostgreSQL) $p_rate images/s: ${ratios[-1]}x"
  if [[ -n ${BENCH_SOCKET:-} ]]; then
    socket_ratios+=("$(ratio "$u_rate" "$s_rate")")
    line+=", through the Unix socket $u_rate images/s: ${socket_ratios[-1]}x"
  fi
  echo "$line"
done
median "2 replicas" "${ratios[@]}"
[[ -n ${BENCH_SOCKET:-} ]] && median "2 replicas through the Unix socket" "${socket_ratios[@]}"
# A wait on the replica that does not run the scan, against one on the replica that does.
url=$(db lag)
start_daemon la "$url"; la=$api
start_daemon lb "$url"; lb=$api
python3 - "127.0.0.1:$port" "$la" "$lb" <<'PY'
import json, statistics, sys, threading, time, urllib.request
registry, a, b = sys.argv[1:4]
def call(api, method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body else None)
    return json.load(urllib.request.urlopen(req, timeout=300))
lags = []
for i in range(1, 31):
    sid = call(a, "POST", "/v1/scans", {"image": f"{registry}/fleet/app-{i}:1"})["id"]
    answered = {}
    def wait(api):
        s = call(api, "GET", f"/v1/scans/{sid}?wait=60")
        answered[api] = (time.monotonic(), s["status"])
    threads = [threading.Thread(target=wait, args=(api,)) for api in (a, b)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert answered[a][1] == answered[b][1] == "done", answered
    lags.append((answered[b][0] - answered[a][0]) * 1000)
print(f"a wait on the other replica answered {statistics.median(lags):.1f} ms after one on the "
      f"replica running the scan (median of {len(lags)}; max {max(lags):.1f} ms)")
PY
