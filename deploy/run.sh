#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running daemon: installs what is needed,
# builds, and runs bulwarkd on 127.0.0.1:8080 with its data in ./bulwark-data.
# Extra arguments go to bulwarkd (e.g. --listen 127.0.0.1:9090 --config bulwark.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
exec ./build/server/bulwarkd "$@"
