#!/usr/bin/env bash
# Run by ctest (demo): README's "Try it" as a new user meets it, on a machine without curl.
#   bash tests/release/demo_test.sh BUILD_DIR
# The PATH given to deploy/demo.sh is this one without curl, and its apt-get is a stand-in that
# logs what it is asked and "installs" curl by linking the real one in: nothing on the machine is
# installed or changed. Checked: demo.sh installs curl before using it; a failed install, a port
# that another registry answers and a port held by something else each stop it with a message
# that says what happened; and the README's block runs as written against a daemon of BUILD_DIR
# (ports and the build path substituted).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
bw_pid= reg_pid= squat_pid=
cleanup() {
  BULWARK_DEMO_DIR=$work/demo bash "$repo/deploy/demo.sh" stop 2>/dev/null || true
  for pid in $bw_pid $reg_pid $squat_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
real_curl=$(command -v curl)

# PATH without curl: every command of this PATH, linked into one folder, but curl.
bin=$work/bin
mkdir -p "$bin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  for f in "$d"/*; do
    name=${f##*/}
    [[ -x "$f" && ! -d "$f" && "$name" != curl && ! -e "$bin/$name" ]] && ln -s "$f" "$bin/$name"
  done
done
rm -f "$bin/apt-get" "$bin/sudo"
cat >"$bin/apt-get" <<EOF
#!/usr/bin/env bash
echo "apt-get \$*" >>"$work/apt.log"
if [[ -f "$work/apt-fails" ]]; then echo "E: Unable to locate package curl" >&2; exit 100; fi
if [[ "\$1" == install ]]; then
  for a in "\$@"; do [[ "\$a" == curl ]] && ln -sf "$real_curl" "$bin/curl"; done
fi
exit 0
EOF
printf '#!/usr/bin/env bash\nexec "$@"\n' >"$bin/sudo"
chmod +x "$bin/apt-get" "$bin/sudo"
demo() { # demo PORT [ARGS] -> runs deploy/demo.sh with the curl-less PATH; output in $work/out, $work/err
  local p=$1; shift
  PATH=$bin BULWARK_DEMO_DIR=$work/demo BULWARK_DEMO_PORT=$p \
    bash "$repo/deploy/demo.sh" "$@" >"$work/out" 2>"$work/err"
}
PATH=$bin command -v curl >/dev/null && fail "curl is still on the test's PATH"

# 1. The install fails: demo.sh stops there, and says nothing about a registry.
port=$(free_port)
touch "$work/apt-fails"
demo "$port" && fail "demo.sh succeeded although curl could not be installed"
grep -q "installing: .*curl" "$work/err" || fail "no 'installing: curl' line: $(cat "$work/err")"
grep -q "Unable to locate package curl" "$work/err" || fail "apt-get's error not shown"
grep -qi "registry" "$work/err" && fail "a failed install was reported as a registry problem: $(cat "$work/err")"
[[ -e "$work/demo/registry.pid" ]] && fail "a registry was started although the install failed"
echo "ok: a failed install of curl stops demo.sh with apt-get's error"

# 2. It installs curl, starts the registry and pushes; a second run installs nothing more.
rm "$work/apt-fails"
demo "$port" || fail "demo.sh failed: $(cat "$work/err")"
grep -q "apt-get install .*curl" "$work/apt.log" || fail "curl was not installed: $(cat "$work/apt.log")"
grep -q "pushed 127.0.0.1:$port/demo/app:1.0" "$work/out" || fail "no push reported: $(cat "$work/out")"
installs=$(grep -c "apt-get install" "$work/apt.log")
demo "$port" || fail "a second demo.sh failed: $(cat "$work/err")"
[[ $(grep -c "apt-get install" "$work/apt.log") == "$installs" ]] || fail "the second run installed again"
echo "ok: demo.sh installs curl, then pushes; the second run installs nothing"

# 3. README's "Try it", as written, against a daemon of this build.
api=$(free_port)
(cd "$work" && exec "$build/server/bulwarkd" --listen "127.0.0.1:$api" --data-dir "$work/data" \
  >"$work/bulwarkd.log" 2>&1) &
bw_pid=$!
for _ in $(seq 100); do "$real_curl" -fs "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
awk '/^## Try it/{t=1} t&&/^```sh/{b=1;next} b&&/^```/{exit} b' "$repo/README.md" >"$work/try.sh"
[[ -s "$work/try.sh" ]] || fail "README has no Try it block"
grep -q 'deploy/demo.sh' "$work/try.sh" || fail "Try it does not start with deploy/demo.sh"
sed -i -e "s#localhost:8080#127.0.0.1:$api#g" -e "s#127.0.0.1:5000#127.0.0.1:$port#g" \
  -e "s#bash deploy/#bash $repo/deploy/#g" -e "s#\./build/#$build/#g" "$work/try.sh"
status=0
(cd "$work" && PATH=$bin BULWARK_DEMO_DIR=$work/demo BULWARK_DEMO_PORT=$port \
  XDG_CACHE_HOME=$work/cache bash -euo pipefail "$work/try.sh") >"$work/try.out" 2>&1 || status=$?
[[ $status == 0 ]] || fail "Try it stopped (exit $status): $(tail -20 "$work/try.out")"
grep -q '"status":"done"' "$work/try.out" || fail "the scan did not finish: $(head -5 "$work/try.out")"
grep -q '"grade":' "$work/try.out" || fail "no report in Try it's output"
grep -q '^bulwark_' "$work/try.out" || fail "no metrics in Try it's output"
[[ $(grep -c 'BW-PIPE-SHELL' "$work/try.out") -ge 2 ]] ||
  fail "the CLI runs did not report the demo's curl | sh: $(tail -30 "$work/try.out")"
[[ -e "$work/demo/registry.pid" ]] && fail "'demo.sh stop' left the registry's pid file"
echo "ok: README's Try it runs top to bottom"

# 4. Another registry already answers on the port: refused, nothing pushed into it.
source "$repo/tests/support/registry.sh"
for _ in $(seq 50); do "$real_curl" -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
demo "$port" && fail "demo.sh pushed into a registry it did not start"
grep -q "not the demo's registry" "$work/err" || fail "no reason given: $(cat "$work/err")"
grep -q "BULWARK_DEMO_PORT=" "$work/err" || fail "the way out (BULWARK_DEMO_PORT) is not named"
catalog=$("$real_curl" -fs "http://127.0.0.1:$port/v2/_catalog")
[[ "$catalog" == *demo/app* ]] && fail "the demo image was pushed into the other registry: $catalog"
echo "ok: a port another registry answers on is refused, naming BULWARK_DEMO_PORT"

# 5. The port is held by something that is not a registry: the registry's own error is shown.
port=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(600)" &
squat_pid=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.1; done
demo "$port" && fail "demo.sh succeeded on a port held by another program"
grep -q "did not answer on 127.0.0.1:$port" "$work/err" || fail "no clear message: $(cat "$work/err")"
grep -q "address already in use" "$work/err" || fail "the registry's own error is not shown: $(cat "$work/err")"
grep -q "BULWARK_DEMO_PORT=" "$work/err" || fail "the way out is not named"
[[ -e "$work/demo/registry.pid" ]] && fail "a registry that did not start was left behind"
echo "ok: a port held by another program is reported with the registry's error"
