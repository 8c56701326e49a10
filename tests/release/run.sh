#!/usr/bin/env bash
# Run by ctest (release_image): the deployment files as production needs them, and the release
# image graded A by Bulwark (deploy/release-image.sh) on the build given.
#   bash tests/release/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
cd "$here/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Kubernetes and systemd files, and the ConfigMap's configuration through the daemon's own check.
python3 "$here/check_deploy.py" deploy "$work/k8s-config.json"
BULWARK_CI_TOKEN=x "$build/server/bulwarkd" config check "$work/k8s-config.json" >/dev/null
BULWARK_CI_TOKEN=x "$build/server/bulwarkd" config check "$work/k8s-config.json.replicas" >/dev/null
# The unit's sandboxing, as systemd rates it (README quotes the figure).
cp deploy/bulwarkd.service "$work/bulwarkd.service"
exposure=$(systemd-analyze security --offline=true "$work/bulwarkd.service" 2>&1 | sed -n 's/.*exposure level for bulwarkd.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure $exposure"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else "bulwarkd.service exposure above 2.0")' "$exposure"
bash deploy/release-image.sh "$build"
