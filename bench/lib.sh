# shellcheck shell=bash disable=SC2034  # sourced: the scripts use its variables
# bench/lib.sh: what bench/run.sh and bench/sweep.sh share: the settings,
# the checks, the two OpenBLAS configurations, waiting for a quiet machine,
# one timed run of each side, and the sgemm peak.  Sourced, not run.
#
# Environment (both scripts):
#   BENCH_THREADS=2              cores each side may use
#   BENCH_GENC_THREADS="2"       genc --threads settings to try; genc is scored by its fastest
#   BENCH_TORCH_CONFIGS="2:1 1:2"  torch threads:OPENBLAS_NUM_THREADS settings
#                                to try; PyTorch is scored by its fastest
#   BENCH_REPEAT=1               runs of each side (interleaved); the fastest counts
#   BENCH_IDLE_WAIT=60           seconds to wait for other load to go away
#   BENCH_OUT=build/bench        scratch directory (runs, logs, sgemm_peak, images)
#   GENC=build/genc  PYTHON=/usr/bin/python3

THREADS=${BENCH_THREADS:-2}
GENC_THREADS=${BENCH_GENC_THREADS:-$THREADS}
TORCH_CONFIGS=${BENCH_TORCH_CONFIGS:-"$THREADS:1 1:$THREADS"}
REPEAT=${BENCH_REPEAT:-1}
IDLE_WAIT=${BENCH_IDLE_WAIT:-60}
OUT=${BENCH_OUT:-build/bench}
GENC=${GENC:-build/genc}
PYTHON=${PYTHON:-/usr/bin/python3}   # Debian's, with torch; not pyenv's python3
SEED=1
TAIL=200          # steps at the end whose mean metrics show both sides train alike
BUSY_LIMIT=0.10   # share of the machine others may use before we call it busy
MIB=1024          # /usr/bin/time %M and ru_maxrss are KiB

# The two OpenBLAS configurations every number is measured in.  headline:
# as users run both programs, OpenBLAS choosing its kernels for this CPU;
# pinned: the core type this environment sets (Haswell unless
# OPENBLAS_CORETYPE says otherwise), as the tests run.  Each is the env
# prefix of every command the benchmark times, and of its sgemm peak.
PINNED_CORE=${OPENBLAS_CORETYPE:-Haswell}
CONFIGS=(headline pinned)
declare -A CONFIG_ENV=(
    [headline]="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
    [pinned]="env OPENBLAS_CORETYPE=$PINNED_CORE"
)
declare -A CONFIG_LABEL=(
    [headline]="headline: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS picks its kernels)"
    [pinned]="pinned: OPENBLAS_CORETYPE=$PINNED_CORE, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
)

WARNINGS=()

die() { echo "bench: $*" >&2; exit 1; }
warn() { echo "bench: warning: $*" >&2; WARNINGS+=("$*"); }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }   # calc 'EXPR' -> number
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
# verdict VALUE OP LIMIT -> "met" or "MISSED"
verdict() { if awk "BEGIN { exit !($1 $2 $3) }"; then echo met; else echo MISSED; fi; }
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }

# ---- checks before anything is timed ---------------------------------------

check_tools() {
    positive BENCH_REPEAT "$REPEAT"
    positive BENCH_THREADS "$THREADS"
    local t
    for t in $GENC_THREADS; do positive "BENCH_GENC_THREADS's entry" "$t"; done
    for t in $TORCH_CONFIGS; do
        [[ "$t" =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] \
            || die "BENCH_TORCH_CONFIGS entries are TORCH_THREADS:BLAS_THREADS, got '$t'"
    done
    [ -x "$GENC" ] || die "$GENC not found; run 'make all'"
    "$PYTHON" -c 'import torch, numpy' 2>/dev/null \
        || die "$PYTHON cannot import torch and numpy; apt-get install python3-torch"
    command -v /usr/bin/time >/dev/null || die "/usr/bin/time not found; apt-get install time"
}

# summarize SPEC: genc's --summary of SPEC; sets SUM_BATCH SUM_FLOPS
# SUM_PARAMS SUM_ARENA SUM_STATE (bytes)
summarize() {
    local spec=$1 summary
    summary=$("$GENC" "$spec" --summary) || die "'$GENC $spec --summary' failed"
    # first line: "model vae (specs/vae.gm), batch 128"
    SUM_BATCH=$(awk 'NR == 1 && $1 == "model" { print $NF; exit }' <<<"$summary")
    [[ "$SUM_BATCH" =~ ^[1-9][0-9]*$ ]] \
        || die "'$GENC $spec --summary' does not start with 'model X (...), batch N'"
    # "step FLOPs   653787136 per training step (...)": GEMMs as 2*M*N*K.
    SUM_FLOPS=$(awk '/^step FLOPs/ { gsub(/,/, "", $3); print $3; exit }' <<<"$summary")
    [[ "$SUM_FLOPS" =~ ^[0-9]+$ ]] \
        || die "'$GENC $spec --summary' prints no 'step FLOPs N' line; GFLOP/s needs it"
    SUM_PARAMS=$(awk '$1 == "parameters" { print $2; exit }' <<<"$summary")
    [[ "$SUM_PARAMS" =~ ^[0-9]+$ ]] \
        || die "'$GENC $spec --summary' prints no 'parameters N' line; the check of the PyTorch model needs it"
    SUM_ARENA=$(awk '$1 == "arena" { print $2; exit }' <<<"$summary")
    SUM_STATE=$(awk '$1 == "state" { print $2; exit }' <<<"$summary")
}

# check_params MODEL PARAMS SPEC: stops unless torch_gan.py's MODEL has as
# many parameters as genc --summary counts for SPEC (before anything is timed)
check_params() {
    local res n
    res=$("$PYTHON" bench/torch_gan.py "$1" --count-params) \
        || die "'bench/torch_gan.py $1 --count-params' failed"
    n=$(kv "$res" params)
    [ "$n" = "$2" ] || die "torch_gan.py $1 has ${n:-no count of} parameters, genc --summary counts $2 for $3: not the same model"
}

# lock: one benchmark at a time, since two would time each other (and share $OUT)
take_lock() {
    mkdir -p "$OUT"
    exec 9>"$OUT/lock"
    if ! flock -n 9; then
        echo "bench: another benchmark is running; waiting for it to finish" >&2
        flock 9
    fi
}

# ---- other load on the machine ---------------------------------------------
# A second process on 2 cores wrecks timings (and torch's OpenMP spin-waits
# most of all), so wait for the machine to be quiet, and afterwards count
# the CPU time that was not ours during each run.

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# wait_idle [LABEL]: until the machine is quiet, or IDLE_WAIT seconds
wait_idle() {
    local waited=0 b0 b1 share what=${1:+before $1}
    while :; do
        b0=$(busy_jiffies); sleep 1; b1=$(busy_jiffies)
        share=$(calc "($b1 - $b0) / $HZ / $NCPU")
        if awk "BEGIN { exit !($share <= $BUSY_LIMIT) }"; then return 0; fi
        if [ "$waited" -ge "$IDLE_WAIT" ]; then
            warn "machine $(calc "int(100 * $share)")% busy ${what:-before a run} ($(top_procs)); timings unreliable"
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
# Appends wall and CPU time to $TIMING_LOG.
timed() {
    local label=$1 log=$2; shift 2
    local tf=$OUT/time.txt b0 b1 wall ours ours_u ours_s others
    wait_idle "$label"
    b0=$(busy_jiffies)
    if ! /usr/bin/time -f '%M %e %U %S' -o "$tf" "$@" >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        die "$label failed; log in $log"
    fi
    b1=$(busy_jiffies)
    read -r RSS_KIB wall ours_u ours_s < <(tail -n 1 "$tf")
    ours=$(calc "$ours_u + $ours_s")
    others=$(calc "($b1 - $b0) / $HZ - $ours")
    printf '%s: wall %s s, cpu %s s, others %s cpu-s\n' "$label" "$wall" "$ours" "$others" >>"$TIMING_LOG"
    if awk "BEGIN { exit !($others > $BUSY_LIMIT * $wall * $NCPU) }"; then
        warn "$label: other load (processes or hypervisor steal) took" \
             "$(calc "int(100 * $others / ($wall * $NCPU))")% of the machine during the run"
    fi
}

# ---- the two sides ---------------------------------------------------------
# RUN_ENV (an env prefix, words) is the configuration every run is made in.

# tail_means CSV STEPS COLUMNS: the mean of each column over the last TAIL
# steps, in the order of COLUMNS (e.g. "loss_D loss_G D_x D_G_z"); fails if
# the CSV lacks one of them
tail_means() {
    awk -F, -v steps="$2" -v tail="$TAIL" -v names="$3" '
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

# genc_once NAME TRAINER STEPS GENC_THREADS METRICS ARG...: one run of the
# trainer (ARGs after its own flags, e.g. --data DIR); sets RUN_MS RUN_RSS RUN_TAIL
genc_once() {
    local name=$1 trainer=$2 steps=$3 threads=$4 metrics=$5; shift 5
    local dir=$OUT/runs/$name-genc secs
    rm -rf "$dir"
    # shellcheck disable=SC2086  # RUN_ENV is words to split
    timed "$trainer train ($name, --threads $threads)" "$OUT/logs/$name-genc-$threads.log" $RUN_ENV \
        "$trainer" train --steps "$steps" --seed "$SEED" --quiet --threads "$threads" --out "$dir" "$@"
    # seconds since the loop started, in the row of the last step timed
    secs=$(awk -F, -v steps="$steps" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
                                      $1 == steps { print $c; exit }' "$dir/metrics.csv")
    [ -n "$secs" ] || die "$dir/metrics.csv has no row for step $steps"
    RUN_MS=$(calc "1000 * $secs / $steps")
    RUN_RSS=$RSS_KIB
    RUN_TAIL=$(tail_means "$dir/metrics.csv" "$steps" "$metrics") \
        || die "$dir/metrics.csv lacks a column of: $metrics"
}

# torch_once NAME MODEL STEPS TORCH_THREADS BLAS_THREADS PARAMS METRICS ARG...:
# one run of the reference (ARGs: --batch B, --data DIR); sets RUN_MS RUN_RSS RUN_TAIL
torch_once() {
    local name=$1 m=$2 steps=$3 tt=$4 ob=$5 params=$6 metrics=$7; shift 7
    local log=$OUT/logs/$name-torch-$tt-$ob.log res k v
    # shellcheck disable=SC2086  # RUN_ENV is words to split
    timed "torch_gan.py $m ($name, $tt:$ob)" "$log" $RUN_ENV OPENBLAS_NUM_THREADS="$ob" \
        "$PYTHON" bench/torch_gan.py "$m" "$steps" --seed "$SEED" --threads "$tt" "$@"
    res=$(tail -n 1 "$log")
    [[ "$res" == result\ * ]] || die "torch_gan.py $m printed no result line; log in $log"
    # a different parameter count means a different model: nothing to compare
    [ "$(kv "$res" params)" = "$params" ] \
        || die "torch_gan.py $m has $(kv "$res" params) parameters, genc --summary counts $params ($name): not the same model"
    RUN_MS=$(kv "$res" ms_per_step)
    RUN_RSS=$RSS_KIB
    RUN_TAIL=''
    for k in $metrics; do
        v=$(kv "$res" "$k")
        [ -n "$v" ] || die "torch_gan.py $m printed no $k= in its result line; log in $log"
        RUN_TAIL+="${RUN_TAIL:+ }$v"
    done
}

# measure NAME TRAINER MODEL STEPS BATCH PARAMS METRICS ARG...: REPEAT rounds
# of genc at each of its thread settings and then PyTorch at each of its,
# interleaved so that slow spells of the host hit both sides alike.  Each
# side is scored by its fastest run.  Sets G_* and T_* (MS RSS TAIL ALL CFG).
measure() {
    local name=$1 trainer=$2 m=$3 steps=$4 batch=$5 params=$6 metrics=$7; shift 7
    local r cfg tt ob gt
    G_MS='' T_MS='' G_ALL='' T_ALL=''
    mkdir -p "$OUT/logs" "$OUT/runs"
    for ((r = 1; r <= REPEAT; r++)); do
        for gt in $GENC_THREADS; do
            genc_once "$name" "$trainer" "$steps" "$gt" "$metrics" "$@"
            G_ALL+="${G_ALL:+, }$gt $(printf %.2f "$RUN_MS")"
            if [ -z "$G_MS" ] || awk "BEGIN { exit !($RUN_MS < $G_MS) }"; then
                G_MS=$RUN_MS G_RSS=$RUN_RSS G_TAIL=$RUN_TAIL G_CFG="--threads $gt"
            fi
        done
        for cfg in $TORCH_CONFIGS; do
            tt=${cfg%%:*} ob=${cfg##*:}
            torch_once "$name" "$m" "$steps" "$tt" "$ob" "$params" "$metrics" --batch "$batch" "$@"
            T_ALL+="${T_ALL:+, }$tt:$ob $(printf %.2f "$RUN_MS")"
            if [ -z "$T_MS" ] || awk "BEGIN { exit !($RUN_MS < $T_MS) }"; then
                T_MS=$RUN_MS T_RSS=$RUN_RSS T_TAIL=$RUN_TAIL
                T_CFG="torch.set_num_threads($tt), OPENBLAS_NUM_THREADS=$ob"
            fi
        done
    done
}

# ---- the sgemm peak ----------------------------------------------------------

# build_sgemm: bench/sgemm_peak.c on the OpenBLAS the trainers load, its
# OpenMP build (Makefile, KERNELS)
build_sgemm() {
    SGEMM_PEAK=$OUT/sgemm_peak
    if [ ! -x "$SGEMM_PEAK" ] || [ bench/sgemm_peak.c -nt "$SGEMM_PEAK" ]; then
        # shellcheck disable=SC2046  # pkg-config prints several words on purpose
        cc -std=c11 -O2 -Wall -Wextra bench/sgemm_peak.c $(pkg-config --cflags --libs openblas) \
            -fopenmp -Wl,-rpath,"/usr/lib/$(cc -print-multiarch)/openblas-openmp" -o "$SGEMM_PEAK" \
            || die "cannot build $SGEMM_PEAK from bench/sgemm_peak.c"
    fi
}

# sgemm CONFIG: the peak in that configuration; sets PEAKS[CONFIG] CORES[CONFIG]
declare -A PEAKS CORES
sgemm() {
    local c=$1 txt=$OUT/sgemm_peak-$1.txt
    wait_idle "the sgemm peak ($c)"
    # shellcheck disable=SC2086  # the env prefix is words to split
    ${CONFIG_ENV[$c]} "$SGEMM_PEAK" "$THREADS" >"$txt" || die "$SGEMM_PEAK failed ($c)"
    PEAKS[$c]=$(awk '$1 == "peak_gflops" { print $2 }' "$txt")
    CORES[$c]=$(awk '$1 == "core" { print $2 }' "$txt")
    [ -n "${PEAKS[$c]}" ] || die "$SGEMM_PEAK printed no peak_gflops line; see $txt"
    echo "OpenBLAS sgemm peak, ${CONFIG_LABEL[$c]}: $(printf %.1f "${PEAKS[$c]}") GFLOP/s on" \
         "$THREADS threads, core ${CORES[$c]}, best of sizes 512..2048"
}

print_header() {
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $NCPU cores; environment:" \
         "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
    echo "PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') ($PYTHON);" \
         "genc $("$GENC" --version 2>/dev/null | head -n 1)"
}

print_warnings() {
    if [ ${#WARNINGS[@]} -gt 0 ]; then
        echo
        echo "warnings (the numbers above may be off):"
        printf '  %s\n' "${WARNINGS[@]}"
    fi
}
