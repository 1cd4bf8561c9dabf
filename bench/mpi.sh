#!/usr/bin/env bash
# bench/mpi.sh: data-parallel training on this machine, and what it would
# take on many.
#
#   bash bench/mpi.sh        (make bench-mpi builds the trainers first)
#
# 1. For dcgan and gan_mlp: BENCH_MPI_STEPS steps of real training as 1 rank
#    with 2 BLAS threads against 2 ranks of 1 thread (mpirun, loopback):
#    ms/step from metrics.csv's row for the last step (as bench/run.sh), and
#    the share of rank 0's time in the gradients' all-reduce (waits for the
#    other rank included), from the trainer's last line.
# 2. The scaling model (bench/README.md, "Many machines"): for dcgan,
#    dcgan_images and cyclegan, the bytes all-reduced per step (every
#    all-reduce of the 2-rank step in build/mpi/NAME.c, 4 bytes a value)
#    and the compute per example (`NAME bench --threads 1`, the step on one
#    core at the spec's batch), through bench/mpi_model.py.
#
# Environment: BENCH_MPI_STEPS=500, BENCH_OUT=build/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${BENCH_MPI_STEPS:-500}
OUT=${BENCH_OUT:-build/bench}/mpi
BIN=build/mpi
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
rm -rf "$OUT"
mkdir -p "$OUT"

# ms/step of run directory $1 over $STEPS steps
ms_per_step() { awk -F, -v n="$STEPS" 'NR > 1 && $1 == n { printf "%.2f", 1000 * $NF / n }' "$1/metrics.csv"; }
# values all-reduced per step: the sizes of every all-reduce of train_step_r2
# (genrt_mpi_start's gradients, genrt_mpi_mean's blocking ones)
reduced() {
    awk '/^static void train_step_r2\(/ { on = 1 } on && /genrt_mpi_(start|mean)\(/ { n = $0;
         sub(/, sizeof\(real\)\);.*/, "", n); sub(/.*, /, "", n); t += n } on && /^}/ { on = 0 } END { print t + 0 }' "$1"
}

echo "== 1 rank x 2 threads against 2 ranks x 1 thread, $STEPS steps each"
printf "| model | 1 rank x 2 threads, ms/step | 2 ranks x 1 thread, ms/step | 2 ranks / 1 rank | all-reduce share (rank 0) | MB all-reduced per step |\n"
printf "| --- | --- | --- | --- | --- | --- |\n"
for m in dcgan gan_mlp; do
    "$BIN/$m.f32" train --steps "$STEPS" --threads 2 --quiet --out "$OUT/$m.1x2" 2> "$OUT/$m.1x2.log"
    "${MPIRUN[@]}" -np 2 "$BIN/$m.f32" train --steps "$STEPS" --threads 1 --out "$OUT/$m.2x1" > "$OUT/$m.2x1.log" 2>&1
    one=$(ms_per_step "$OUT/$m.1x2") two=$(ms_per_step "$OUT/$m.2x1")
    share=$(sed -n 's/.*(\([0-9.]*%\) of it in all-reduce.*/\1/p' "$OUT/$m.2x1.log")
    mb=$(awk -v v="$(reduced "$BIN/$m.c")" 'BEGIN { printf "%.2f", 4 * v / 1e6 }')
    printf "| %s | %s | %s | %.2f | %s | %s |\n" "$m" "$one" "$two" "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')" "$share" "$mb"
done

echo
echo "== the scaling model: ring all-reduce against the compute per example (one core)"
for m in dcgan dcgan_images cyclegan; do
    batch=$(build/genc "specs/$m.gm" --summary | sed -n '1s/.*batch \([0-9]*\).*/\1/p')
    ms=$("$BIN/$m.f32" bench --steps 20 --threads 1 2>&1 | sed -n 's/^bench: \([0-9.]*\) ms\/step.*/\1/p')
    echo "$m $(reduced "$BIN/$m.c") $batch $ms"
done > "$OUT/model.in"
python3 bench/mpi_model.py "$OUT/model.in"
