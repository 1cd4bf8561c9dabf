#!/usr/bin/env bash
# bench/sweep.sh: dcgan at several batches, genc against PyTorch, in the
# headline configuration of bench/run.sh (OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, each side at its fastest thread setting).
#
#   make bench-sweep        (builds the trainers, then runs this)
#   bash bench/sweep.sh     (the trainers must already be built)
#
# For each batch B the trainer is $BENCH_OUT/sweep/dcgan_bB, built by
# bench/bench.mk from specs/dcgan.gm with `batch B` (the Makefile's trainer
# flags).  Each run trains the same number of examples, BENCH_SWEEP_EXAMPLES,
# so BENCH_SWEEP_EXAMPLES / B steps.  Writes $BENCH_OUT/sweep.csv (ms per
# step and per example of both sides, genc's arena and state bytes from
# `genc --summary`, both sides' peak RSS) and plots it to BENCH_SWEEP_PNG.
#
# Environment (and those of bench/lib.sh):
#   BENCH_SWEEP_BATCHES="16 64 256"
#   BENCH_SWEEP_EXAMPLES=64000   examples per run
#   BENCH_SWEEP_STEPS=N          steps per run at every batch, in place of the above
#   BENCH_SWEEP_PNG=bench/sweep.png
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

BATCHES=${BENCH_SWEEP_BATCHES:-16 64 256}
EXAMPLES=${BENCH_SWEEP_EXAMPLES:-64000}
PNG=${BENCH_SWEEP_PNG:-bench/sweep.png}
DIR=$OUT/sweep
CSV=$OUT/sweep.csv
TIMING_LOG=$DIR/timing.log
CONFIG=headline
METRICS="loss_D loss_G D_x D_G_z"

positive BENCH_SWEEP_EXAMPLES "$EXAMPLES"
[ -z "${BENCH_SWEEP_STEPS:-}" ] || positive BENCH_SWEEP_STEPS "$BENCH_SWEEP_STEPS"
[ -n "$BATCHES" ] || die "BENCH_SWEEP_BATCHES is empty"
check_tools
"$PYTHON" -c 'import matplotlib' 2>/dev/null \
    || die "$PYTHON cannot import matplotlib, which the plot needs; apt-get install python3-matplotlib"

declare -A STEPS FLOPS PARAMS ARENA STATE
for b in $BATCHES; do
    positive "BENCH_SWEEP_BATCHES's entry" "$b"
    spec=$DIR/dcgan_b$b.gm
    [[ -f "$spec" && -x "$DIR/dcgan_b$b" ]] \
        || die "$DIR/dcgan_b$b not found; run 'make bench-sweep' (BENCH_OUT=$OUT BENCH_SWEEP_BATCHES=\"$BATCHES\")"
    summarize "$spec"
    [ "$SUM_BATCH" = "$b" ] || die "$spec trains at batch $SUM_BATCH, not $b"
    [[ "$SUM_ARENA" =~ ^[0-9]+$ ]] || die "'$GENC $spec --summary' prints no 'arena N bytes' line"
    FLOPS[$b]=$SUM_FLOPS PARAMS[$b]=$SUM_PARAMS ARENA[$b]=$SUM_ARENA STATE[$b]=$SUM_STATE
    [ -n "${CHECKED:-}" ] || check_params dcgan "$SUM_PARAMS" "$spec"
    CHECKED=1
    if [ -n "${BENCH_SWEEP_STEPS:-}" ]; then
        STEPS[$b]=$BENCH_SWEEP_STEPS
    else
        STEPS[$b]=$(( (EXAMPLES + b - 1) / b ))
    fi
done

take_lock
mkdir -p "$DIR"
: >"$TIMING_LOG"
build_sgemm

echo "genc batch sweep: dcgan on Fashion-MNIST, batches $BATCHES, seed $SEED, $THREADS threads each side," \
     "best of $REPEAT run(s)"
print_header
sgemm "$CONFIG"
RUN_ENV=${CONFIG_ENV[$CONFIG]}

echo "batch,steps,genc_ms_per_step,torch_ms_per_step,genc_ms_per_example,torch_ms_per_example,genc_over_torch,genc_gflops,torch_gflops,sgemm_peak_gflops,genc_arena_bytes,genc_state_bytes,genc_peak_rss_kib,torch_peak_rss_kib,genc_setting,torch_setting" >"$CSV.tmp"
echo
echo "| batch | steps | genc ms/example | PyTorch ms/example | genc/PyTorch | genc share of sgemm peak | genc arena MiB | genc peak RSS MiB | PyTorch peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for b in $BATCHES; do
    s=${STEPS[$b]}
    measure "dcgan_b$b" "$DIR/dcgan_b$b" dcgan "$s" "$b" "${PARAMS[$b]}" "$METRICS"
    g_ex=$(calc "$G_MS / $b") t_ex=$(calc "$T_MS / $b")
    g_gf=$(calc "${FLOPS[$b]} / ($G_MS / 1000) / 1e9") t_gf=$(calc "${FLOPS[$b]} / ($T_MS / 1000) / 1e9")
    printf '%s,%s,%.3f,%.3f,%.5f,%.5f,%.4f,%.1f,%.1f,%.1f,%s,%s,%s,%s,"%s","%s"\n' "$b" "$s" "$G_MS" "$T_MS" \
        "$g_ex" "$t_ex" "$(calc "$G_MS / $T_MS")" "$g_gf" "$t_gf" "${PEAKS[$CONFIG]}" "${ARENA[$b]}" \
        "${STATE[$b]}" "$G_RSS" "$T_RSS" "$G_CFG" "$T_CFG" >>"$CSV.tmp"
    printf '| %s | %s | %.4f | %.4f | %.3f | %.0f%% | %.1f | %.1f | %.1f |\n' "$b" "$s" "$g_ex" "$t_ex" \
        "$(calc "$G_MS / $T_MS")" "$(calc "100 * $g_gf / ${PEAKS[$CONFIG]}")" \
        "$(calc "${ARENA[$b]} / 1048576")" "$(calc "$G_RSS / $MIB")" "$(calc "$T_RSS / $MIB")"
    echo "  batch $b runs, ms/step: genc (--threads) $G_ALL; PyTorch (threads:BLAS threads) $T_ALL" >&2
done
mv "$CSV.tmp" "$CSV"
echo
echo "wrote $CSV"
"$PYTHON" bench/plot_sweep.py "$CSV" "$PNG" \
    --title "dcgan batch sweep: $(lscpu | sed -n 's/^Model name: *//p'), $THREADS threads each side, OPENBLAS_CORETYPE unset, $(date +%Y-%m-%d)" \
    || die "bench/plot_sweep.py could not plot $CSV"
echo "wrote $PNG"
print_warnings
