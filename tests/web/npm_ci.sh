# Sourced by the web tests: installs the npm packages of tests/web/package-lock.json once, into
# tests/web/node_modules (puppeteer-core drives Debian's chromium; it downloads no browser).
if [[ ! -d "$(dirname "${BASH_SOURCE[0]}")/node_modules/puppeteer-core" ||
      ! -d "$(dirname "${BASH_SOURCE[0]}")/node_modules/@redocly/cli" ]]; then
  (cd "$(dirname "${BASH_SOURCE[0]}")" &&
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
