#!/usr/bin/env bash
# install-deps.sh — the only setup step: installs, from Debian's packages, everything shoal
# needs to build, run and test. Safe to re-run. Needs root (or sudo) on Debian 12.
#
# etcd-server: shoal supervises its own etcd child on its own ports (2479/2480 by default);
# on machines with systemd the package also enables Debian's etcd unit on 2379/2380, which
# shoal neither uses nor collides with; we stop and disable it so it does not waste memory.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

pkgs=(build-essential pkg-config libuv1-dev libjansson-dev libssl-dev
      etcd-server clang clang-format libclang-rt-14-dev curl python3 iproute2 procps
      nftables iputils-ping util-linux faketime)
# The integration tests drive the real docker CLI; install Debian's only if none is present.
command -v docker >/dev/null 2>&1 || pkgs+=(docker.io)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
echo "install-deps: all dependencies present"
