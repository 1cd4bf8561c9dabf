#!/usr/bin/env bash
# run.sh: replay the regression inputs, then fuzz, each harness in turn.
#
#   tests/fuzz/run.sh BIN_DIR BUDGET HARNESS...
#
# BUDGET is SECONDS of fuzzing per harness (random seeds: a search), or
# runs=N for N inputs per harness from seed 1 (what make test runs: the same
# inputs every time, so a pass does not depend on luck or the machine's load).
#
# One fuzz process at a time, nice'd (the machine is shared), each in a
# temp directory of its own that is its working directory, its corpus and
# where libFuzzer puts what it finds: a run writes nothing else.  The seed
# corpus: tests/fuzz/seeds/HARNESS, and for the compiler every spec in
# specs/, tests/specs/ and tests/bad/.  Inputs that once crashed are in
# tests/fuzz/regress/HARNESS: each must run clean.  After a crash the temp
# directory is kept and named, with the input to add to regress/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=$(cd "$1" && pwd)
budget=$2
shift 2
case $budget in
    runs=*) limit=(-runs="${budget#runs=}" -seed=1); what="${budget#runs=} inputs from seed 1" ;;
    *) limit=(-max_total_time="$budget"); what="$budget s" ;;
esac
status=0
for h in "$@"; do
    bin=$bin_dir/fuzz_$h
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/genc-fuzz-$h.XXXXXX")
    mkdir "$tmp/corpus" "$tmp/seeds"
    cp "$root"/tests/fuzz/seeds/"$h"/* "$tmp/seeds/" 2>/dev/null || true
    if [ "$h" = compiler ]; then
        cp "$root"/specs/*.gm "$root"/tests/specs/*.gm "$root"/tests/bad/*.gm "$tmp/seeds/"
    fi
    opts=("${limit[@]}" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$tmp/")
    [ -f "$root/tests/fuzz/$h.dict" ] && opts+=(-dict="$root/tests/fuzz/$h.dict")
    [ "$h" = compiler ] && opts+=(-max_len=4096)
    regress=("$root"/tests/fuzz/regress/"$h"/*)
    if [ -e "${regress[0]}" ]; then
        if ! (cd "$tmp" && "$bin" "${regress[@]}") > "$tmp/regress.log" 2>&1; then
            tail -40 "$tmp/regress.log"
            echo "fuzz_$h: a regression input fails; the log is $tmp/regress.log"
            status=1
            continue
        fi
        echo "fuzz_$h: ${#regress[@]} regression inputs run clean"
    fi
    if (cd "$tmp" && nice -n 10 "$bin" "${opts[@]}" corpus seeds) > "$tmp/fuzz.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/fuzz.log")
        found=$(sed -n 's/^stat::new_units_added: *//p' "$tmp/fuzz.log")
        echo "fuzz_$h: ${runs:-?} runs ($what, ${rate:-?}/s), $found new corpus inputs, no crash, leak or timeout"
        grep "^fuzz_$h: .* inputs" "$tmp/fuzz.log" || true
        if [ "$h" = compiler ] && ! grep -q "[1-9][0-9]* to a sampler" "$tmp/fuzz.log"; then
            echo "fuzz_compiler: no input reached the sampler emitter"
            status=1
        fi
        rm -rf "$tmp"
    else
        tail -60 "$tmp/fuzz.log"
        echo "fuzz_$h: FAILED; the input is in $tmp (crash-*, leak-*, timeout-*, oom-*):"
        ls "$tmp" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true
        echo "add it to tests/fuzz/regress/$h/ once it is fixed"
        status=1
    fi
done
exit $status
