#!/usr/bin/env bash
# Installs the Debian 12 packages Bulwark needs. Idempotent: when every package is already
# installed it changes nothing and needs no network.
#   deploy/install-deps.sh          build and run the daemon
#   deploy/install-deps.sh --test   also what the test suite needs (a registry, skopeo, …)
#   deploy/install-deps.sh --demo   also a local registry, skopeo and curl for deploy/demo.sh
# A package whose command the scripts call counts as missing when that command is not on PATH,
# and is checked again after installing: the scripts fail here, naming it, not later on
# "command not found".
set -euo pipefail

build_packages=(
  clang-14 cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev libyaml-cpp-dev libssl-dev nlohmann-json3-dev libsqlite3-dev
  libarchive-dev libzstd-dev libisal-dev libre2-dev libpq-dev
)
test_packages=(
  libclang-rt-14-dev doctest-dev zlib1g-dev docker-registry skopeo apache2-utils openssl curl
  sqlite3 zstd python3-jsonschema python3-yaml rpm systemd postgresql-15 chromium fonts-dejavu-core nodejs prometheus
  busybox-static node-ms node-inherits node-balanced-match libcommons-io-java libcommons-lang3-java
  openjdk-17-jdk-headless ruby-rack rake ruby-webrick composer rustc python3-attr
)

demo_packages=(docker-registry skopeo curl)
# Package -> the command the scripts call from it.
declare -A commands=(
  [clang-14]=clang++-14 [cmake]=cmake [ninja-build]=ninja [pkg-config]=pkg-config
  [docker-registry]=docker-registry [skopeo]=skopeo [curl]=curl [openssl]=openssl
  [sqlite3]=sqlite3 [zstd]=zstd [nodejs]=node [apache2-utils]=htpasswd [openjdk-17-jdk-headless]=javac
  [ruby-rack]=ruby [composer]=composer [rustc]=rustc
)

wanted=("${build_packages[@]}")
case "${1:-}" in
  --test) wanted+=("${test_packages[@]}") ;;
  --demo) wanted+=("${demo_packages[@]}") ;;
esac

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
     { [[ -n "${commands[$p]:-}" ]] && ! command -v "${commands[$p]}" >/dev/null; }; then
    missing+=("$p")
  fi
done
# The browser tests run npm: Debian's package, unless a Node.js build that bundles npm is there.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then missing+=(npm); fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Installing the docker-registry and prometheus packages must not leave their services running
# (:5000, :9090): the tests start their own, and only need promtool from prometheus.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
for service in docker-registry prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    $SUDO systemctl disable --now "$service" || true
  fi
done
for p in "${missing[@]}"; do
  c=${commands[$p]:-}
  if [[ -n "$c" ]] && ! command -v "$c" >/dev/null; then
    echo "deploy/install-deps.sh: package $p is installed but its command $c is not on PATH ($PATH)" >&2
    exit 1
  fi
done
