#!/usr/bin/env bash
# fuzz-run.sh NAME SECONDS — runs build/fuzz/fuzz_NAME for SECONDS on one core, growing
# build/fuzz/corpus/NAME from the seeds in tests/fuzz/corpus/NAME (read-only). Prints one
# summary line (executions, coverage, CPU time) and exits non-zero if libFuzzer found a
# crash, a leak, a timeout or a sanitizer report; the input is kept under build/fuzz/artifacts/
# and the whole log in build/fuzz/NAME.log.
set -uo pipefail
cd "$(dirname "$0")/.."
name=$1 secs=$2
bin=build/fuzz/fuzz_$name log=build/fuzz/$name.log
mkdir -p "build/fuzz/corpus/$name" build/fuzz/artifacts "tests/fuzz/corpus/$name"
start=$(date +%s.%N)
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a runaway allocation is a bug
TIMEFORMAT='%U %S' # bash's own `time`: CPU seconds, user and system
{ time "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build/fuzz/artifacts/$name-" \
    "build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; } 2>"build/fuzz/$name.cpu"
rc=$?
read -r user sys <"build/fuzz/$name.cpu" 2>/dev/null || { user=?; sys=?; }
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1)
wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
printf 'fuzz %-10s %s execs, %s, cpu %s s user + %s s sys, %s s wall: %s\n' "$name" \
    "${execs:-?}" "${cov:-no coverage line}" "$user" "$sys" "$wall" \
    "$([ $rc -eq 0 ] && echo ok || echo "FAILED (rc $rc)")"
if [ $rc -ne 0 ]; then
    grep -m 1 -A 12 -E '==ERROR|runtime error|ERROR: libFuzzer|Direct leak' "$log" | sed 's/^/    /'
    ls build/fuzz/artifacts/"$name"-* 2>/dev/null | sed 's/^/    input: /'
fi
exit $rc
