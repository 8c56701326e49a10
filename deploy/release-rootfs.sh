#!/usr/bin/env bash
# Assembles the release image's whole filesystem from a build: bulwarkd and bulwark, exactly the
# shared libraries they load (ldd), the CA bundle, a numeric non-root user, and the directories
# the daemon writes. Nothing else: no shell, no package manager, no package database.
#   deploy/release-rootfs.sh BUILD_DIR OUT_DIR
# deploy/Dockerfile copies OUT_DIR into a scratch image; tests/release/run.sh scans the same
# tree with bulwarkd and requires grade A.
set -euo pipefail
build=$(cd "${1:?build directory}" && pwd)
out=${2:?output directory}
bins=("$build/server/bulwarkd" "$build/client/bulwark")
rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/etc/ssl/certs" "$out/etc/bulwark" "$out/var/lib/bulwark" \
  "$out/home/bulwark" "$out/tmp"
install -m 0755 "${bins[@]}" "$out/usr/bin/"
# The libraries and the ELF interpreter, at the paths the binaries ask for.
ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u |
  while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nbulwark:x:65532:65532:bulwark:/home/bulwark:/sbin/nologin\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nbulwark:x:65532:\n' >"$out/etc/group"
chmod 1777 "$out/tmp"
# The daemon's store and the user's home belong to the user the image runs as.
chown -R 65532:65532 "$out/var/lib/bulwark" "$out/home/bulwark"
