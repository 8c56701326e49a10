# Sourced by the benchmarks: starts Debian's docker-registry on a free loopback port, storing
# under $work, and waits until it answers. Sets `port` and `reg_pid` (the caller stops it).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/reg.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done
