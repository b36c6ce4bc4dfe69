#!/usr/bin/env bash
# lint.sh — `make lint`: clang-format conformance of every C file, and the module layering
# rules: every module is in the order below; a module may include only itself and modules
# below it (docs/DESIGN.md §1); an internal header (*_int.h) is included only from its own
# folder.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 2>/dev/null)
if ! clang-format --dry-run --Werror $files 2>/tmp/shoal-lint.$$; then
    head -n 40 /tmp/shoal-lint.$$
    echo "lint: formatting differs (run clang-format -i on the files above)"
    fail=1
fi
rm -f /tmp/shoal-lint.$$
# Lowest first. A file in module M may include modules at or below M's rank.
# src/manager/<part>/ folders (scheduler, orchestrator, dispatcher, rootca: pure logic) rank below
# spec, which reads their types; src/manager/ itself (the leader's loop, which reads specs)
# ranks above it.
# msg (the node-to-node message codec) sits below them all, so the dispatcher and the agent
# both read it.
# etcdtrust (etcd's CA, certificates and CRL on a manager) reads only base and ca.
order=(base http httpc store ca etcdtrust state repl msg manager/scheduler manager/orchestrator
       manager/dispatcher manager/logbroker manager/rootca spec manager exec image net volume
       agent node hollow api daemon)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && echo "$i" && return; done; echo 99; }
for f in $(git ls-files 'src/*/*.c' 'src/*/*.h' 'src/*/*/*.c' 'src/*/*/*.h'); do
    mod=$(echo "$f" | cut -d/ -f2)
    case "$f" in src/manager/*/*) mod=$(echo "$f" | cut -d/ -f2-3) ;; esac
    r=$(rank "$mod")
    if [ "$r" = 99 ]; then
        echo "lint: $f is in module $mod, which the layering order in scripts/lint.sh does not know"
        fail=1
    fi
    # internal headers (*_int.h) are private to the folder that holds them
    dir=$(dirname "$f")
    for inc in $(grep -oE '^#include "[^"]*_int\.h"' "$f" | sed -E 's/#include "(.*)"/\1/'); do
        case "$inc" in
        */*) [ "src/$(dirname "$inc")" = "$dir" ] || { echo "lint: $f includes $inc, internal to src/$(dirname "$inc")"; fail=1; } ;;
        *) [ -e "$dir/$inc" ] || { echo "lint: $f includes $inc, not in its own folder"; fail=1; } ;;
        esac
    done
    for inc in $(grep -oE '^#include "[a-z]+/([a-z]+/)?' "$f" | sed -E 's/#include "//; s/\/$//'); do
        case "$inc" in manager/*) [ "$(rank "$inc")" = 99 ] && inc=manager ;; *) inc=${inc%%/*} ;; esac
        if [ "$(rank "$inc")" -gt "$r" ]; then
            echo "lint: $f (module $mod) includes higher module $inc"
            fail=1
        fi
    done
done
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
