#!/usr/bin/env bash
# mpi.sh: data-parallel training (genc --mpi) on 2 ranks of Open MPI over
# loopback, against 1 rank with the same global batch.
#
#   tests/mpi.sh BIN_DIR
#
# BIN_DIR holds, per model, NAME.c (genc --mpi-ranks 2), NAME.f32 and
# NAME.f64 (the trainer in float and in double).  Checks, each run with one
# BLAS thread per rank:
#  1. 1 rank and 2 ranks agree, tensor by tensor (tests/ckpt_close.py), on
#     gan_mlp, dcgan with sync_batchnorm, wgan_gp_ring (critic steps and the
#     gradient penalty's double backprop) and cyclegan (three networks): in
#     double to 1e-9, in float to 1e-4 (one step of dcgan and cyclegan as below), with the
#     same data order and latent stream (the run state) bit for bit;
#  2. resume: 2 ranks to step 20, then 1 rank to 40, is 1 rank to 40;
#  3. failures end the job with a message, within seconds: a bad flag on
#     one rank, a rank killed mid-run, a rank stuck at start-up, a batch
#     that does not split; SIGTERM stops every rank after the same step;
#  4. without sync_batchnorm, each rank normalizes its own rows (so dcgan's
#     2 ranks differ from 1 rank), and --per-rank-batch runs.
set -uo pipefail
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/genc-mpi-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
failures=0
ok() { echo "mpi: ok: $*"; }
fail() { echo "mpi: FAIL: $*"; failures=$((failures + 1)); }
train() { "$@" --threads 1 --quiet; }

# same MODEL PREC STEPS TOL: MODEL.PREC for STEPS steps on 1 rank and on 2
same() {
    local m=$1 p=$2 n=$3 tol=$4 d=$1.$2 out
    shift 4 # the rest: ckpt_close.py's options
    mkdir -p "$d"
    if ! train "$BIN/$m.$p" train --steps "$n" --out "$d/one" 2> "$d/one.err" ||
        ! train "${MPIRUN[@]}" -np 2 "$BIN/$m.$p" train --steps "$n" --out "$d/two" 2> "$d/two.err"; then
        fail "$m in $p: a run failed: $(tail -n 3 "$d"/*.err)"
        return
    fi
    if out=$(python3 "$ROOT/tests/ckpt_close.py" "$d/one/checkpoint.ckpt" "$d/two/checkpoint.ckpt" "$BIN/$m.c" "$tol" "$@"); then
        ok "$m, $n steps in $p: 2 ranks = 1 rank: ${out##*$'\n'}"
    else
        fail "$m, $n steps in $p: 2 ranks differ from 1: $out"
    fi
}

# Float runs are held to 1e-4 for as many steps as float's own rounding
# allows: Adam's first steps move each weight by about lr times the sign of
# its gradient, and where a gradient is within float rounding of zero (the
# part of a weight's gradient that batchnorm cancels) its sign is the
# rounding's, so the two sums' orders then differ by 2 lr in that weight.
# dcgan and cyclegan cross 1e-4 so in their second step (dcgan: 1.4e-2 at
# step 2, 0.2 at step 10); gan_mlp after step 25.  Their one float step is
# checked as what it is: the gradients, in Adam's moments (m = (1 - beta1) g
# after one step), to the tolerance, and the weights to 2 lr in absolute
# terms (4e-4 at lr 2e-4, + 1e-5 of float rounding), since rounding moves
# the ones whose gradient is nearly zero by up to that much on some CPUs
# (an AMD EPYC of the Zen 3 class: dcgan's G.l5.weight 2.7e-4 relative
# apart, 8.5e-6 absolute, its moments 8.0e-7).  cyclegan's gradients are
# held to 1e-2: its float gradients are up to 2.7e-2 from its double ones
# (X gradcheck --float; the L1 cycle term's kinks), and two float sums of
# them differ by up to 1.2e-3 on that EPYC (F.l21.weight), 1.96e-4 on one
# with OpenBLAS's Cooper Lake kernels.  Double shows the math is the same:
# 1e-12 and below after every run here.
# the emitted steps: every gradient's all-reduce starts as soon as it is
# computed and is waited for before its optimizer step; one process has none
starts=$(grep -c "genrt_mpi_start(" "$BIN/gan_mlp.c") waits=$(grep -c "genrt_mpi_wait(" "$BIN/gan_mlp.c")
first=$(grep -n -m1 "genrt_mpi_start(\|genrt_mpi_wait(" "$BIN/gan_mlp.c")
if [ "$starts" = 24 ] && [ "$waits" = 24 ] && [[ $first == *start* ]] && ! grep -q genrt_mpi "$ROOT/generated/gan_mlp.c" &&
    [ "$(grep -c "genrt_mpi_mean(" "$BIN/dcgan_sync.c")" -gt 0 ]; then
    ok "gan_mlp's 2 steps of 2 ranks: 24 all-reduces started as their gradients are computed, 24 waits; sync_batchnorm's statistics reduced in dcgan_sync"
else
    fail "the emitted all-reduces: $starts starts, $waits waits, first: $first"
fi

same gan_mlp f64 50 1e-9
same gan_mlp f32 20 1e-4
same dcgan_sync f64 20 1e-9
same dcgan_sync f32 1 1e-4 --abs GENRT_PARAM 4.1e-4
same wgan_gp_ring f64 10 1e-9
same wgan_gp_ring f32 40 1e-4
same cyclegan f64 10 1e-9
same cyclegan f32 1 1e-2 --abs GENRT_PARAM 4.1e-4

# resume M P: 2 ranks to step 20, then 1 rank to 40; and 1 rank to 20, then
# 2 to 40; each against 1 rank to 40 (from same's run of 40 steps, or its own)
resume() {
    local m=$1 p=$2 tol=$3 d=resume.$1.$2 out ref
    mkdir -p "$d"
    train "$BIN/$m.$p" train --steps 40 --out "$d/ref" 2> "$d/ref.err" || { fail "resume: $(cat "$d/ref.err")"; return; }
    if ! train "${MPIRUN[@]}" -np 2 "$BIN/$m.$p" train --steps 20 --out "$d/a" 2> "$d/a.err" ||
        ! train "$BIN/$m.$p" train --steps 40 --out "$d/a" --resume "$d/a/checkpoint.ckpt" 2>> "$d/a.err" ||
        ! train "$BIN/$m.$p" train --steps 20 --out "$d/b" 2> "$d/b.err" ||
        ! train "${MPIRUN[@]}" -np 2 "$BIN/$m.$p" train --steps 40 --out "$d/b" --resume "$d/b/checkpoint.ckpt" 2>> "$d/b.err"; then
        fail "resume $m in $p: a run failed: $(tail -n 3 "$d"/a.err "$d"/b.err)"
        return
    fi
    for run in a b; do
        if ! out=$(python3 "$ROOT/tests/ckpt_close.py" "$d/ref/checkpoint.ckpt" "$d/$run/checkpoint.ckpt" "$BIN/$m.c" "$tol"); then
            fail "resume $m in $p ($run): $out"
            return
        fi
        [ "$(wc -l < "$d/$run/metrics.csv")" = 41 ] || { fail "resume $m ($run): metrics.csv has $(wc -l < "$d/$run/metrics.csv") lines, not 41"; return; }
    done
    ok "resume $m in $p: 2 ranks to 20 then 1 to 40, and 1 then 2, = 1 rank to 40 (data order identical): ${out##*$'\n'}"
}
resume gan_mlp f64 1e-9
resume wgan_gp_ring f32 1e-4

# --- failures: a message and an end, never a hang ---------------------------

X=$BIN/gan_mlp.f32
# a bad flag on one rank only (MPMD: rank 1 gets another command line)
t0=$SECONDS
"${MPIRUN[@]}" -np 1 "$X" train --steps 5 --out bad --quiet : -np 1 "$X" train --steps 5 --out bad --quiet \
    --data "$TMP/nowhere" > bad.log 2>&1
rc=$?
if [ $rc != 0 ] && grep -q "rank 1.*nowhere" bad.log && grep -q "another rank failed to start" bad.log && [ ! -e bad/checkpoint.ckpt ]; then
    ok "a bad --data on rank 1: exit $rc in $((SECONDS - t0)) s: $(grep -m1 nowhere bad.log)"
else
    fail "a bad --data on rank 1: exit $rc: $(cat bad.log)"
fi
# a rank killed mid-run: the job ends within seconds
t0=$SECONDS
timeout 120 "${MPIRUN[@]}" -np 1 "$X" train --steps 1000000 --out killed --quiet : \
    -np 1 timeout -s KILL 3 "$X" train --steps 1000000 --out killed --quiet > killed.log 2>&1
rc=$?
took=$((SECONDS - t0))
if [ $rc != 0 ] && [ $rc != 124 ] && [ $took -lt 30 ]; then
    ok "rank 1 killed (SIGKILL) after 3 s: the job ended in $took s, exit $rc: $(grep -m1 -i "exited\|killed\|signal" killed.log)"
else
    fail "rank 1 killed: exit $rc after $took s: $(tail -5 killed.log)"
fi
# a rank stuck at start-up (its data file is a FIFO nothing writes): the
# others give up after GENC_MPI_TIMEOUT seconds and end the job
mkdir -p fifo && mkfifo fifo/train-images-idx3-ubyte &&
    ln -s /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz fifo/
t0=$SECONDS
GENC_MPI_TIMEOUT=3 timeout 60 "${MPIRUN[@]}" -x GENC_MPI_TIMEOUT -np 1 "$X" train --steps 5 --out stuck --quiet : \
    -np 1 "$X" train --steps 5 --out stuck --quiet --data fifo > stuck.log 2>&1
rc=$?
took=$((SECONDS - t0))
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "did not start within 3 s" stuck.log && [ $took -lt 30 ]; then
    ok "a rank stuck reading a FIFO: the job ended in $took s, exit $rc: $(grep -m1 "did not start" stuck.log)"
else
    fail "a rank stuck at start-up: exit $rc after $took s: $(tail -n 5 stuck.log)"
fi
# SIGTERM to mpirun (which forwards it to every rank): all ranks stop after
# the same step, rank 0 saves it, and the run resumes from it on 1 rank
"${MPIRUN[@]}" -np 2 "$X" train --steps 1000000 --out term --threads 1 --quiet > term.log 2>&1 &
mp=$!
for _ in $(seq 200); do [ -s term/metrics.csv ] && [ "$(wc -l < term/metrics.csv)" -gt 20 ] && break; sleep 0.05; done
kill -TERM $mp
wait $mp
step=$(sed -n 's/.*SIGTERM after step \([0-9]*\);.*/\1/p' term.log)
if [ -n "$step" ] && [ "$(tail -n 1 term/metrics.csv | cut -d, -f1)" = "$step" ] &&
    train "$X" train --steps $((step + 5)) --out term --resume term/checkpoint.ckpt 2> term.err; then
    ok "SIGTERM to mpirun: both ranks stopped after step $step, its checkpoint resumed on 1 rank"
else
    fail "SIGTERM to mpirun: $(cat term.log term.err 2>/dev/null)"
fi
# a batch that does not split among the ranks, and a rank count with no step
for np in 3 4; do
    "${MPIRUN[@]}" -np $np "$X" train --steps 5 --out split$np --quiet > split$np.log 2>&1
    rc=$?
    want=$([ $np = 3 ] && echo "does not split among 3 ranks" || echo "no step for 4 ranks")
    if [ $rc = 1 ] && grep -q "$want" split$np.log && [ "$(grep -c error split$np.log)" = 1 ]; then
        ok "$np ranks: exit 1: $(grep -m1 "$want" split$np.log)"
    else
        fail "$np ranks: exit $rc: $(cat split$np.log)"
    fi
done
# --per-rank-batch: a batch on every rank (128 in all); it trains, and the
# other subcommands refuse to run on several ranks
if train "${MPIRUN[@]}" -np 2 "$X" train --steps 5 --out prb --per-rank-batch 2> prb.err &&
    "$X" sample --checkpoint prb/checkpoint.ckpt -n 8 -o prb.png 2>> prb.err; then
    ok "--per-rank-batch on 2 ranks trains, and its checkpoint samples on 1"
else
    fail "--per-rank-batch: $(cat prb.err)"
fi
"${MPIRUN[@]}" -np 2 "$X" sample --checkpoint prb/checkpoint.ckpt -n 8 -o prb2.png > sample2.log 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "only train runs on 2 ranks" sample2.log && [ ! -e prb2.png ]; then
    ok "sample on 2 ranks: exit 1: $(grep -m1 "only train" sample2.log)"
else
    fail "sample on 2 ranks: exit $rc: $(cat sample2.log)"
fi

echo "mpi: $failures failures"
[ $failures = 0 ]
