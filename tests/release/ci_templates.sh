#!/usr/bin/env bash
# Run by ctest (ci_templates): deploy/ci/ as shipped. The structure each template needs and its
# shell blocks (check_ci_templates.py), then the GitHub workflow against the workflow schema
# with action-validator (npm, installed once into tests/web/node_modules; skipped, exit 77, when
# npm cannot reach its registry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python3 "$here/check_ci_templates.py" "$repo/deploy/ci/github-actions.yml" "$repo/deploy/ci/gitlab-ci.yml"
source "$repo/tests/web/npm_ci.sh"
[[ -d "$repo/tests/web/node_modules/@action-validator/cli" ]] ||
  (cd "$repo/tests/web" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$repo/tests/web" && npx --no-install action-validator "$repo/deploy/ci/github-actions.yml")
echo "action-validator: deploy/ci/github-actions.yml is a valid workflow"
