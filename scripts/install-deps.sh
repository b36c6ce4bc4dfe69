#!/usr/bin/env bash
# install-deps.sh — the only setup step: installs, from Debian's packages, everything shoal
# needs to build, run and test. Safe to re-run. Needs root (or sudo) on Debian 12.
#
# - etcd-server: shoal supervises its own etcd child on its own ports (2479/2480 by default).
# - docker.io: Debian's docker CLI 20.10 (/usr/bin/docker), which the tests drive; where the
#   docker CLI 28 is also installed at /usr/local/bin/docker, the tests use both. shoal never
#   uses dockerd.
# - jq, curl, python3, openssl, iproute2, nftables, util-linux (nsenter, setpriv), procps,
#   iputils-ping, faketime, bc: tools the black-box tests and benchmarks use.
# - conmon, runc, crun, busybox-static, tini: the executor (src/exec): conmon is the shim per
#   container, runc/crun the OCI runtime, tini-static the --init binary; busybox-static builds
#   the rootfs of the real-container tests.
# - libmnl-dev, libnftables-dev: node networking (src/net): rtnetlink through libmnl; nftables
#   through libnftables, which the daemon dlopens (the -dev package gives its header).
# On machines with systemd, installing etcd-server or docker.io also enables Debian's etcd
# (2379/2380) and dockerd units, which shoal neither uses nor collides with: when this script
# installed the package, it stops and disables that unit so it does not waste memory; units
# of packages that were already installed are left as they are.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

pkgs=(build-essential pkg-config libuv1-dev libjansson-dev libssl-dev libarchive-dev
      libmnl-dev libnftables-dev
      etcd-server clang clang-format libclang-rt-14-dev
      curl jq python3 openssl iproute2 procps nftables iputils-ping util-linux faketime bc
      docker.io conmon runc crun busybox-static tini)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
        case "$p" in
        etcd-server) $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true ;;
        docker.io) $SUDO systemctl disable --now docker.socket docker.service >/dev/null 2>&1 || true ;;
        esac
    done
fi
echo "install-deps: all dependencies present"
