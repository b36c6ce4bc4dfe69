#!/usr/bin/env bash
# lint.sh — `make lint`: clang-format conformance of every C file, and the module layering
# rule: a module may include only itself and modules below it (docs/DESIGN.md §1).
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
order=(base http httpc store ca state node hollow api daemon)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && echo "$i" && return; done; echo 99; }
for f in $(git ls-files 'src/*/*.c' 'src/*/*.h'); do
    mod=$(echo "$f" | cut -d/ -f2)
    r=$(rank "$mod")
    for inc in $(grep -oE '^#include "[a-z]+/' "$f" | sed -E 's/#include "([a-z]+)\//\1/'); do
        if [ "$(rank "$inc")" -gt "$r" ]; then
            echo "lint: $f (module $mod) includes higher module $inc"
            fail=1
        fi
    done
done
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
