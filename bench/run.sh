#!/usr/bin/env bash
# bench/run.sh: genc's trainers against PyTorch 1.13 on the same model, batch,
# optimizers, data and cores, measured side by side in one run.
#
#   bash bench/run.sh [MODEL...]          (default: gan_mlp dcgan vae)
#
# For each model: ms/step over the first BENCH_STEPS steps of real training
# on Fashion-MNIST, peak RSS, and genc's GFLOP/s against the OpenBLAS sgemm
# peak measured here, now.  See bench/README.md.
#
# Environment:
#   BENCH_STEPS=2000             steps per run
#   BENCH_THREADS=2              cores each side may use
#   BENCH_TORCH_CONFIGS="2:1 1:2"  torch threads:OPENBLAS_NUM_THREADS settings
#                                to try; PyTorch is scored by its fastest
#   BENCH_REPEAT=1               runs of each side (interleaved); the fastest counts
#   BENCH_UNSET_CORETYPE=1       also measure everything with OPENBLAS_CORETYPE
#                                and OPENBLAS_L2_SIZE unset (OpenBLAS's own pick)
#   BENCH_IDLE_WAIT=60           seconds to wait for other load to go away
#   BENCH_OUT=build/bench        scratch directory (runs, logs, sgemm_peak)
#   GENC=build/genc  PYTHON=/usr/bin/python3
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${BENCH_STEPS:-2000}
THREADS=${BENCH_THREADS:-2}
TORCH_CONFIGS=${BENCH_TORCH_CONFIGS:-"$THREADS:1 1:$THREADS"}
UNSET_CORETYPE=${BENCH_UNSET_CORETYPE:-0}
REPEAT=${BENCH_REPEAT:-1}
IDLE_WAIT=${BENCH_IDLE_WAIT:-60}
OUT=${BENCH_OUT:-build/bench}
GENC=${GENC:-build/genc}
PYTHON=${PYTHON:-/usr/bin/python3}   # Debian's, with torch; not pyenv's python3
SEED=1
TAIL=200          # steps at the end whose mean metrics show both sides train alike
BUSY_LIMIT=0.10   # share of the machine others may use before we call it busy
MIB=1024          # /usr/bin/time %M and ru_maxrss are KiB

# Targets: genc/PyTorch time, genc/PyTorch RSS, genc's share of sgemm peak,
# and genc's own ms/step.  The VAE's is absolute: PyTorch takes about 24
# ms/step here and KANN 5.65 on a similar 784-400-20 VAE; 4 ms is about 70%
# of the 2-core sgemm peak for its step FLOPs.
declare -A TARGET_MS=([gan_mlp]=0.25 [dcgan]=0.5)
declare -A TARGET_RSS=([gan_mlp]=0.1 [dcgan]=0.1)
declare -A TARGET_PEAK=([dcgan]=0.60)
declare -A TARGET_ABS_MS=([vae]=4)

# The metrics compared at the end of training, as genc's metrics.csv names
# its columns and torch_gan.py its result keys; the models torch_gan.py knows.
GAN_METRICS="loss_D loss_G D_x D_G_z"
VAE_METRICS="loss rec kl"
declare -A METRICS=([gan_mlp]=$GAN_METRICS [dcgan]=$GAN_METRICS [vae]=$VAE_METRICS)
declare -A METRIC_LABEL=([D_x]='D(x)' [D_G_z]='D(G(z))')

if [ $# -gt 0 ]; then MODELS=("$@"); else MODELS=(gan_mlp dcgan vae); fi
WARNINGS=()

die() { echo "bench: $*" >&2; exit 1; }
warn() { echo "bench: warning: $*" >&2; WARNINGS+=("$*"); }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }   # calc 'EXPR' -> number

# ---- checks before anything is timed ---------------------------------------

[[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STEPS must be a positive integer, got '$STEPS'"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer, got '$REPEAT'"
[ -x "$GENC" ] || die "$GENC not found; run 'make all'"
"$PYTHON" -c 'import torch, numpy' 2>/dev/null \
    || die "$PYTHON cannot import torch and numpy; apt-get install python3-torch"
command -v /usr/bin/time >/dev/null || die "/usr/bin/time not found; apt-get install time"

declare -A FLOPS PARAMS BATCH
for m in "${MODELS[@]}"; do
    [ -f "specs/$m.gm" ] || die "no spec specs/$m.gm"
    [ -n "${METRICS[$m]:-}" ] \
        || die "bench/torch_gan.py has no PyTorch reference for $m (it has: ${!METRICS[*]})"
    [ -x "./$m" ] || die "./$m not found; run 'make $m'"
    summary=$("$GENC" "specs/$m.gm" --summary) || die "'$GENC specs/$m.gm --summary' failed"
    # first line: "model vae (specs/vae.gm), batch 128"
    BATCH[$m]=$(awk 'NR == 1 && $1 == "model" { print $NF; exit }' <<<"$summary")
    [[ "${BATCH[$m]}" =~ ^[1-9][0-9]*$ ]] \
        || die "'$GENC specs/$m.gm --summary' does not start with 'model X (...), batch N'"
    # "step FLOPs   653787136 per training step (...)": GEMMs as 2*M*N*K.
    f=$(awk '/^step FLOPs/ { gsub(/,/, "", $3); print $3; exit }' <<<"$summary")
    [[ "$f" =~ ^[0-9]+$ ]] \
        || die "'$GENC specs/$m.gm --summary' prints no 'step FLOPs N' line; GFLOP/s needs it"
    FLOPS[$m]=$f
    PARAMS[$m]=$(awk '$1 == "parameters" { print $2; exit }' <<<"$summary")
done

mkdir -p "$OUT"
# One benchmark at a time: two would time each other (and share $OUT).
exec 9>"$OUT/lock"
if ! flock -n 9; then
    echo "bench: another benchmark is running; waiting for it to finish" >&2
    flock 9
fi
: >"$OUT/timing.log"
SGEMM_PEAK=$OUT/sgemm_peak
if [ ! -x "$SGEMM_PEAK" ] || [ bench/sgemm_peak.c -nt "$SGEMM_PEAK" ]; then
    # on the OpenBLAS the trainers load: its OpenMP build (Makefile, KERNELS)
    # shellcheck disable=SC2046  # pkg-config prints several words on purpose
    cc -std=c11 -O2 -Wall -Wextra bench/sgemm_peak.c $(pkg-config --cflags --libs openblas) \
        -fopenmp -Wl,-rpath,"/usr/lib/$(cc -print-multiarch)/openblas-openmp" -o "$SGEMM_PEAK"
fi

# ---- other load on the machine ---------------------------------------------
# A second process on 2 cores wrecks timings (and torch's OpenMP spin-waits
# most of all), so wait for the machine to be quiet, and afterwards count
# the CPU time that was not ours during each run.

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

wait_idle() {
    local waited=0 b0 b1 share
    while :; do
        b0=$(busy_jiffies); sleep 1; b1=$(busy_jiffies)
        share=$(calc "($b1 - $b0) / $HZ / $NCPU")
        if awk "BEGIN { exit !($share <= $BUSY_LIMIT) }"; then return 0; fi
        if [ "$waited" -ge "$IDLE_WAIT" ]; then
            warn "machine $(calc "int(100 * $share)")% busy before a run ($(top_procs)); timings unreliable"
            return 0
        fi
        [ "$waited" -eq 0 ] && echo "bench: machine busy ($(top_procs | grep . || echo short-lived processes)); waiting up to ${IDLE_WAIT}s" >&2
        waited=$((waited + 1))
    done
}
# the processes busy right now (ps's %CPU is a lifetime average, so ask top)
top_procs() {
    top -b -n 2 -d 0.5 -o %CPU -w 200 2>/dev/null | awk '
        /^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 > 5 && k++ < 3 { printf "%s%s %s%%", s, $12, $9; s = ", " }'
}

# timed LABEL LOG CMD...: runs CMD under /usr/bin/time; sets RSS_KIB, and
# warns if other processes took more than BUSY_LIMIT of the machine meanwhile.
timed() {
    local label=$1 log=$2; shift 2
    local tf=$OUT/time.txt b0 b1 wall ours ours_u ours_s others
    wait_idle
    b0=$(busy_jiffies)
    if ! /usr/bin/time -f '%M %e %U %S' -o "$tf" "$@" >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        die "$label failed; log in $log"
    fi
    b1=$(busy_jiffies)
    read -r RSS_KIB wall ours_u ours_s < <(tail -n 1 "$tf")
    ours=$(calc "$ours_u + $ours_s")
    others=$(calc "($b1 - $b0) / $HZ - $ours")
    printf '%s: wall %s s, cpu %s s, others %s cpu-s\n' "$label" "$wall" "$ours" "$others" \
        >>"$OUT/timing.log"
    if awk "BEGIN { exit !($others > $BUSY_LIMIT * $wall * $NCPU) }"; then
        warn "$label: other load (processes or hypervisor steal) took" \
             "$(calc "int(100 * $others / ($wall * $NCPU))")% of the machine during the run"
    fi
}

# ---- the two sides ---------------------------------------------------------

# tail_means CSV COLUMNS: the mean of each column over the last TAIL steps,
# in the order of COLUMNS (e.g. "loss_D loss_G D_x D_G_z"); fails if the CSV
# lacks one of them
tail_means() {
    awk -F, -v steps="$STEPS" -v tail="$TAIL" -v names="$2" '
        NR == 1 {
            for (i = 1; i <= NF; i++) col[$i] = i
            k = split(names, name, " ")
            for (j = 1; j <= k; j++) if (!(name[j] in col)) { bad = name[j]; exit 1 }
            next
        }
        $1 > steps - tail && $1 <= steps { n++; for (j = 1; j <= k; j++) sum[j] += $col[name[j]] }
        END {
            if (bad != "") { print "no column " bad > "/dev/stderr"; exit 1 }
            for (j = 1; n && j <= k; j++) printf "%s%.3f", (j > 1 ? " " : ""), sum[j] / n
        }' "$1"
}

# genc_once MODEL ENV...: one run of the trainer; sets RUN_MS RUN_RSS RUN_TAIL
genc_once() {
    local m=$1; shift
    local dir=$OUT/runs/$m-genc secs
    rm -rf "$dir"
    timed "./$m train" "$OUT/$m-genc.log" "$@" "./$m" train --steps "$STEPS" --seed "$SEED" \
        --quiet --threads "$THREADS" --out "$dir"
    # seconds since the loop started, in the row of the last step timed
    secs=$(awk -F, -v steps="$STEPS" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
                                      $1 == steps { print $c; exit }' "$dir/metrics.csv")
    [ -n "$secs" ] || die "$dir/metrics.csv has no row for step $STEPS"
    RUN_MS=$(calc "1000 * $secs / $STEPS")
    RUN_RSS=$RSS_KIB
    RUN_TAIL=$(tail_means "$dir/metrics.csv" "${METRICS[$m]}") \
        || die "$dir/metrics.csv lacks a column of: ${METRICS[$m]}"
}

# torch_once MODEL TORCH_THREADS BLAS_THREADS ENV...: one run of the
# reference; sets RUN_MS RUN_RSS RUN_TAIL
torch_once() {
    local m=$1 tt=$2 ob=$3; shift 3
    local log=$OUT/$m-torch-$tt-$ob.log res k v
    timed "torch_gan.py $m ($tt:$ob)" "$log" "$@" OPENBLAS_NUM_THREADS="$ob" \
        "$PYTHON" bench/torch_gan.py "$m" "$STEPS" --seed "$SEED" --threads "$tt"
    res=$(tail -n 1 "$log")
    [[ "$res" == result\ * ]] || die "torch_gan.py $m printed no result line; log in $log"
    # a different parameter count means a different model: nothing to compare
    [ -z "${PARAMS[$m]}" ] || [ "$(kv "$res" params)" = "${PARAMS[$m]}" ] \
        || die "torch_gan.py $m has $(kv "$res" params) parameters, specs/$m.gm ${PARAMS[$m]}"
    RUN_MS=$(kv "$res" ms_per_step)
    RUN_RSS=$RSS_KIB
    RUN_TAIL=''
    for k in ${METRICS[$m]}; do
        v=$(kv "$res" "$k")
        [ -n "$v" ] || die "torch_gan.py $m printed no $k= in its result line; log in $log"
        RUN_TAIL+="${RUN_TAIL:+ }$v"
    done
}

# measure MODEL ENV...: REPEAT rounds of genc and then every PyTorch setting,
# interleaved so that slow spells of the host hit both sides alike.  Each
# side is scored by its fastest run.  Sets G_* and T_* (MS RSS TAIL ALL),
# and T_CFG.
measure() {
    local m=$1; shift
    local r cfg tt ob
    G_MS='' T_MS='' G_ALL='' T_ALL=''
    for ((r = 1; r <= REPEAT; r++)); do
        genc_once "$m" "$@"
        G_ALL+="${G_ALL:+, }$(printf %.2f "$RUN_MS")"
        if [ -z "$G_MS" ] || awk "BEGIN { exit !($RUN_MS < $G_MS) }"; then
            G_MS=$RUN_MS G_RSS=$RUN_RSS G_TAIL=$RUN_TAIL
        fi
        for cfg in $TORCH_CONFIGS; do
            tt=${cfg%%:*} ob=${cfg##*:}
            torch_once "$m" "$tt" "$ob" "$@"
            T_ALL+="${T_ALL:+, }$tt:$ob $(printf %.2f "$RUN_MS")"
            if [ -z "$T_MS" ] || awk "BEGIN { exit !($RUN_MS < $T_MS) }"; then
                T_MS=$RUN_MS T_RSS=$RUN_RSS T_TAIL=$RUN_TAIL
                T_CFG="torch.set_num_threads($tt), OPENBLAS_NUM_THREADS=$ob"
            fi
        done
    done
}
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# ---- the table -------------------------------------------------------------

# verdict VALUE OP LIMIT -> "met" or "MISSED"
verdict() { if awk "BEGIN { exit !($1 $2 $3) }"; then echo met; else echo MISSED; fi; }

row() { printf '  %-22s %10s %10s %13s   %-8s %s\n' "$@"; }

# report MODEL PEAK LABEL: one block of the table from G_* and T_*
report() {
    local m=$1 peak=$2 label=$3
    local f=${FLOPS[$m]} ms_ratio rss_ratio g_gf t_gf g_frac t_frac
    ms_ratio=$(calc "$G_MS / $T_MS")
    rss_ratio=$(calc "$G_RSS / $T_RSS")
    g_gf=$(calc "$f * $STEPS / ($G_MS * $STEPS / 1000) / 1e9")
    t_gf=$(calc "$f * $STEPS / ($T_MS * $STEPS / 1000) / 1e9")
    g_frac=$(calc "$g_gf / $peak")
    t_frac=$(calc "$t_gf / $peak")
    local tm=${TARGET_MS[$m]:-} tr=${TARGET_RSS[$m]:-} tp=${TARGET_PEAK[$m]:-}
    local ta=${TARGET_ABS_MS[$m]:-}

    echo "  [$label]"
    row "" genc PyTorch genc/PyTorch target ""
    row "ms/step" "$(printf %.2f "$G_MS")" "$(printf %.2f "$T_MS")" "$(printf %.3f "$ms_ratio")" \
        "${tm:+<= $tm}" "${tm:+$(verdict "$ms_ratio" '<=' "$tm")}"
    [ -z "$ta" ] || row "ms/step (genc)" "$(printf %.2f "$G_MS")" "" "" \
        "<= $ta" "$(verdict "$G_MS" '<=' "$ta")"
    row "peak RSS (MiB)" "$(calc "sprintf(\"%.1f\", $G_RSS / $MIB)")" \
        "$(calc "sprintf(\"%.1f\", $T_RSS / $MIB)")" "$(printf %.3f "$rss_ratio")" \
        "${tr:+<= $tr}" "${tr:+$(verdict "$rss_ratio" '<=' "$tr")}"
    row "GFLOP/s" "$(printf %.1f "$g_gf")" "$(printf %.1f "$t_gf")" "" "" ""
    row "% of sgemm peak" "$(calc "sprintf(\"%.0f%%\", 100 * $g_frac)")" \
        "$(calc "sprintf(\"%.0f%%\", 100 * $t_frac)")" "" \
        "${tp:+>= $(calc "100 * $tp")%}" "${tp:+$(verdict "$g_frac" '>=' "$tp")}"
    echo "  sgemm peak $(printf %.1f "$peak") GFLOP/s on $THREADS threads; step FLOPs $f;" \
         "parameters ${PARAMS[$m]:-?} (the same on both sides)"
    echo "  runs, ms/step: genc $G_ALL; PyTorch (threads:BLAS threads) $T_ALL"
    echo "  PyTorch's fastest setting: $T_CFG"
    echo "  mean of steps $((STEPS > TAIL ? STEPS - TAIL + 1 : 1))-$STEPS:" \
         "genc $(labelled "${METRICS[$m]}" "$G_TAIL"); PyTorch $(labelled "${METRICS[$m]}" "$T_TAIL")"
}

# labelled "NAME..." "VALUE..." -> "NAME VALUE NAME VALUE ...", D_x as D(x)
labelled() {
    local -a names values
    local i out=''
    read -r -a names <<<"$1"
    read -r -a values <<<"$2"
    for i in "${!names[@]}"; do
        out+="${out:+ }${METRIC_LABEL[${names[$i]}]:-${names[$i]}} ${values[$i]:-?}"
    done
    echo "$out"
}

# sgemm_peak ENV... -> sets PEAK and CORE
sgemm() {
    "$@" "$SGEMM_PEAK" "$THREADS" >"$OUT/sgemm_peak.txt"
    PEAK=$(awk '$1 == "peak_gflops" { print $2 }' "$OUT/sgemm_peak.txt")
    CORE=$(awk '$1 == "core" { print $2 }' "$OUT/sgemm_peak.txt")
}

# ---- run -------------------------------------------------------------------

SETTINGS=("OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}")
ENVS=("env")
if [ "$UNSET_CORETYPE" = 1 ] && [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    SETTINGS+=("OPENBLAS_CORETYPE unset")
    ENVS+=("env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE")
fi

echo "genc benchmark: $STEPS steps of Fashion-MNIST per run, seed $SEED, $THREADS threads each side," \
     "best of $REPEAT run(s)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $NCPU cores;" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
echo "PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') ($PYTHON);" \
     "genc $("$GENC" --version 2>/dev/null | head -n 1)"

declare -A PEAKS CORES
for i in "${!ENVS[@]}"; do
    wait_idle
    # shellcheck disable=SC2086  # ENVS entries are words to split
    sgemm ${ENVS[$i]}
    PEAKS[$i]=$PEAK CORES[$i]=$CORE
    echo "OpenBLAS sgemm peak (${SETTINGS[$i]}): $(printf %.1f "$PEAK") GFLOP/s on $THREADS threads," \
         "core $CORE, best of sizes 512..2048"
done

for m in "${MODELS[@]}"; do
    echo
    echo "== $m: batch ${BATCH[$m]}, first $STEPS steps =="
    for i in "${!ENVS[@]}"; do
        # shellcheck disable=SC2086  # ENVS entries are words to split
        measure "$m" ${ENVS[$i]}
        report "$m" "${PEAKS[$i]}" "${SETTINGS[$i]}, OpenBLAS core ${CORES[$i]}"
    done
done

if [ ${#WARNINGS[@]} -gt 0 ]; then
    echo
    echo "warnings (the numbers above may be off):"
    printf '  %s\n' "${WARNINGS[@]}"
fi
