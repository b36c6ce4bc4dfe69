#!/usr/bin/env bash
# run-swarm.sh — the README's first command: installs dependencies, builds shoal, starts the
# daemon in the background (data root /var/lib/shoal, socket /run/shoal/shoal.sock, log
# /var/log/shoal.log), makes it a one-node swarm if it is not in one yet, and tells how to
# point the docker CLI at it. Env: SHOAL_DATA_ROOT, SHOAL_SOCK, SHOAL_ADVERTISE_ADDR
# (default 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${SHOAL_DATA_ROOT:-/var/lib/shoal}
sock=${SHOAL_SOCK:-/run/shoal/shoal.sock}
adv=${SHOAL_ADVERTISE_ADDR:-127.0.0.1}
log=${SHOAL_LOG:-/var/log/shoal.log}
scripts/install-deps.sh
make -j"$(nproc)"
export DOCKER_HOST=unix://$sock
if ! docker version >/dev/null 2>&1; then
    mkdir -p "$(dirname "$log")"
    nohup build/shoal daemon --data-root "$root" -H "unix://$sock" \
        --pidfile "$root.pid" >>"$log" 2>&1 </dev/null &
    for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
fi
for _ in $(seq 100); do
    state=$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null || true)
    [ "$state" = pending ] || break
    sleep 0.1
done
if [ "$state" = inactive ]; then
    docker swarm init --advertise-addr "$adv"
fi
docker node ls
cat <<MSG

shoal is running (pid $(cat "$root.pid" 2>/dev/null || echo ?), log $log).
Point the docker CLI at it:

    export DOCKER_HOST=unix://$sock

Stop it with: kill \$(cat $root.pid)
MSG
