# Sourced by the web tests: installs the npm packages of tests/web/package-lock.json once, into
# tests/web/node_modules (puppeteer-core drives Debian's chromium; it downloads no browser;
# @action-validator/cli checks the GitHub workflow template).
# ctest runs the web tests side by side and `npm ci` starts by deleting node_modules, so the
# check and the install hold a lock: a second test waits for the first's install, then finds
# the packages in place.
# When npm cannot reach its registry the test is skipped (exit 77, ctest's SKIP_RETURN_CODE for
# web and openapi_lint) with the reason, rather than failed: nothing of Bulwark was tested.
npm_ci_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec {npm_ci_lock}>"$npm_ci_dir/node_modules.lock"
flock "$npm_ci_lock"
if [[ ! -d "$npm_ci_dir/node_modules/puppeteer-core" ||
      ! -d "$npm_ci_dir/node_modules/@redocly/cli" ||
      ! -d "$npm_ci_dir/node_modules/@action-validator/cli" ]]; then
  if ! npm_out=$(cd "$npm_ci_dir" &&
      PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    echo "$npm_out" >&2
    if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|EHOSTUNREACH' <<<"$npm_out"; then
      echo "SKIPPED: npm cannot reach its registry ($(npm config get registry)) to install" \
        "tests/web/package-lock.json; run again with network access, or with node_modules" \
        "copied into tests/web" >&2
      exit 77
    fi
    exit 1
  fi
fi
exec {npm_ci_lock}>&-
