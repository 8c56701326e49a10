#!/usr/bin/env bash
# schema/openapi.yaml through Redocly's linter (recommended rules): no error may remain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/npm_ci.sh"
cd "$here"
npx --no-install redocly lint --format=stylish ../../schema/openapi.yaml
