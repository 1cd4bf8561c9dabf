#!/bin/bash
# faults.sh: fault injection on real trainers, run by `make test`.
#
#     bash tests/faults.sh DIR     DIR holds the fault_ring and diverge_ring
#                                  trainers (tests/specs/), built by make;
#                                  FAULT_KILLS=N for another number of kills
#
#  1. kill -9 at random points of a run that checkpoints every step, until
#     it has been killed FAULT_KILLS times (default 50) and then finishes:
#     every checkpoint a kill leaves loads, the next run removes the
#     temporaries it leaves, and the chain of resumed runs ends in the same
#     bytes as an uninterrupted run (checkpoint, metrics, preview);
#  2. SIGINT, SIGTERM, SIGHUP mid-run: exit 130/143/129 with a checkpoint
#     that resumes to the same bytes; a second SIGINT at once;
#  3. a diverging spec (lr 1e6): where it diverged, the last good checkpoint
#     kept, for --on-nonfinite stop, skip and ignore;
#  4. a fresh train into a used directory: refused; --force;
#  5. a full disk (a small tmpfs, when mount works: as root) and a file size
#     limit (ulimit -f): a clear error that names the file, the old
#     checkpoint intact, no temporaries left.
# Everything is written in one temporary directory, removed at the end.
set -u
set -m # background jobs keep SIGINT (a shell without job control ignores it for them)

BIN=$(cd "$1" && pwd)
RING=$BIN/fault_ring
DIVERGE=$BIN/diverge_ring
KILLS=${FAULT_KILLS:-50}
SLOW=1
[ -n "${ASAN_OPTIONS:-}" ] && SLOW=3 # a sanitized trainer starts and steps slower
TMP=$(mktemp -d /tmp/genc-faults-XXXXXX)
MNT=
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP" || exit 1

failures=0
fail() {
    echo "faults: FAIL: $*"
    failures=$((failures + 1))
}
# A section begins; ok says so at its end, unless it failed.
begin() { before=$failures; }
ok() {
    [ $failures = $before ] && echo "faults: ok: $*"
}

# The step a checkpoint holds (a u64 at byte 24), and whether it loads.
ckpt_step() { od -An -t u8 -j 24 -N 8 "$1" | tr -d ' '; }
loads() { "${2:-$RING}" sample --checkpoint "$1" -n 1 -o "$TMP/load.csv" 2> "$TMP/load.err"; }
temps() { find "$1" -name '*.tmp.*' | wc -l; }
same_metrics() { cmp -s <(cut -d, -f1-5 "$1") <(cut -d, -f1-5 "$2"); }

# ---- 1. kill -9 --------------------------------------------------------------

begin
# Waits until run $1 has saved a step beyond $2 (20 s at most): the
# trainer is then in its loop, past start-up, whatever the machine's load.
wait_progress() {
    for _ in $(seq 2000); do
        [ -e "$1/checkpoint.ckpt" ] && [ "$(ckpt_step "$1/checkpoint.ckpt")" -gt "$2" ] && return 0
        sleep 0.01
    done
    return 1
}
# Sleeps a random 0 .. $1 - 1 ms (times SLOW).
nap() {
    local ms=$(((RANDOM % $1) * SLOW))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

N=100
"$RING" train --steps $N --threads 1 --quiet --out ref || { echo "faults: the reference run failed"; exit 1; }
png=samples/step-$(printf %06d $N).png
RANDOM=7 # the same kill points every time (where they land depends on the machine)
kills=0 resumes=0 loaded=0 left=0 chains=0
declare -A steps_seen
# Chains of runs in run/, each killed at a random point and resumed by the
# next, until KILLS kills; every chain ends in an unkilled run.
while [ $kills -lt $KILLS ] && [ $failures = $before ]; do
    rm -rf run
    chains=$((chains + 1))
    while :; do
        from=0
        args=()
        if [ -e run/checkpoint.ckpt ]; then
            loads run/checkpoint.ckpt || { fail "a checkpoint left by a kill does not load: $(cat load.err)"; break; }
            loaded=$((loaded + 1))
            from=$(ckpt_step run/checkpoint.ckpt)
            steps_seen[$from]=1
            # killed after its last checkpoint, on its way out: done
            [ "$from" = $N ] && rc=0 && break
            args=(--resume run/checkpoint.ckpt)
            resumes=$((resumes + 1))
        fi
        [ -d run ] && left=$((left + $(temps run)))
        "$RING" train --steps $N --threads 1 --quiet --out run "${args[@]}" 2>> chain.err &
        pid=$!
        if [ $kills -lt $KILLS ]; then
            # one kill in four lands in start-up or the first step, the
            # others in a step (mostly its checkpoint's write) after one more
            if [ $((RANDOM % 4)) = 0 ]; then
                nap 40
            else
                wait_progress run "$from"
                nap 20
            fi
            kill -9 $pid 2>/dev/null && kills=$((kills + 1))
        fi
        wait $pid 2>/dev/null
        rc=$?
        [ $rc = 0 ] && break
        [ $rc = 137 ] || { fail "a resumed run exited $rc: $(tail -3 chain.err)"; break; }
    done
    [ $failures = $before ] || break
    cmp -s ref/checkpoint.ckpt run/checkpoint.ckpt || fail "kill -9: chain $chains: the checkpoint differs"
    same_metrics ref/metrics.csv run/metrics.csv || fail "kill -9: chain $chains: metrics.csv differs"
    cmp -s ref/$png run/$png || fail "kill -9: chain $chains: the last preview differs"
    if [ "$(temps run)" != 0 ] && [ "$from" = $N ]; then
        # killed on its way out, after its last checkpoint (writing
        # report.html, say): what it left is the next run's to remove
        left=$((left + $(temps run)))
        rm -rf next && cp -a run next
        "$RING" train --steps $((N + 1)) --threads 1 --quiet --out next --resume next/checkpoint.ckpt 2>> chain.err ||
            fail "kill -9: chain $chains: a run after the finished one failed: $(tail -3 chain.err)"
        [ "$(temps next)" = 0 ] || fail "kill -9: chain $chains: the next run left temporary files: $(find next -name '*.tmp.*')"
    else
        [ "$(temps run)" = 0 ] || fail "kill -9: chain $chains: temporary files left: $(find run -name '*.tmp.*')"
    fi
done
ok "kill -9: $kills kills in $chains chain(s) of $N steps, $resumes resumes, $loaded checkpoints loaded (${#steps_seen[@]} distinct steps), $left temporaries left by kills and removed by the next run; every chain byte-identical to an uninterrupted run (checkpoint, metrics, preview)"

# ---- 2. signals --------------------------------------------------------------

begin
# `train` in sig/ until it is sent $1, a few steps in; expects exit status $2.
interrupt() {
    local from=0
    [ -e sig/checkpoint.ckpt ] && from=$(ckpt_step sig/checkpoint.ckpt)
    "$RING" train --steps 1000000 --threads 1 --quiet --out sig "${@:3}" 2> sig.err &
    local pid=$!
    wait_progress sig $((from + 3)) || fail "SIG$1: the run made no progress"
    kill -"$1" $pid
    wait $pid
    local rc=$?
    if [ $rc != "$2" ]; then
        fail "SIG$1: exit $rc, not $2: $(cat sig.err)"
        return 1
    fi
    grep -q "SIG$1 after step [0-9]*; checkpoint sig/checkpoint.ckpt (continue with --resume sig/checkpoint.ckpt)" sig.err ||
        fail "SIG$1: no message saying where the checkpoint is: $(cat sig.err)"
    loads sig/checkpoint.ckpt || fail "SIG$1: the checkpoint does not load: $(cat load.err)"
}
interrupt INT 130
interrupt TERM 143 --resume sig/checkpoint.ckpt
interrupt HUP 129 --resume sig/checkpoint.ckpt
s=$(ckpt_step sig/checkpoint.ckpt)
# two in a row: the first ends the step, the second exits at once
"$RING" train --steps 1000000 --threads 1 --quiet --out sig --resume sig/checkpoint.ckpt 2> sig.err &
pid=$!
wait_progress sig $((s + 3)) || fail "SIGINT twice: the run made no progress"
kill -INT $pid
sleep 0.001
kill -INT $pid 2>/dev/null
wait $pid 2>/dev/null
rc=$?
[ $rc = 130 ] || fail "SIGINT twice: exit $rc, not 130"
loads sig/checkpoint.ckpt || fail "SIGINT twice: the checkpoint does not load: $(cat load.err)"
s=$(ckpt_step sig/checkpoint.ckpt)
total=$((s + 15))
"$RING" train --steps $total --threads 1 --quiet --out sig --resume sig/checkpoint.ckpt || fail "resuming after the signals"
"$RING" train --steps $total --threads 1 --quiet --out sigref || fail "the signals' reference run"
cmp -s sig/checkpoint.ckpt sigref/checkpoint.ckpt || fail "signals: the resumed run's checkpoint differs"
same_metrics sig/metrics.csv sigref/metrics.csv || fail "signals: the resumed run's metrics.csv differs"
[ "$(temps sig)" = 0 ] || fail "signals: temporary files left"
ok "SIGINT, SIGTERM, SIGHUP: 130, 143, 129 with a checkpoint; SIGINT twice: 130; resumed to step $total byte-identical to an uninterrupted run"

# ---- 3. a diverging spec -------------------------------------------------------

begin
"$DIVERGE" train --quiet --out div 2> div.err
rc=$?
[ $rc = 1 ] || fail "diverging: exit $rc, not 1"
grep -q "error: train: step [0-9]*: loss_D is [-a-z]*; stopped (div/checkpoint.ckpt keeps step [0-9]*, the last good one" div.err ||
    fail "diverging: no message naming the step and the loss: $(cat div.err)"
loads div/checkpoint.ckpt "$DIVERGE" || fail "diverging: the last good checkpoint does not load: $(cat load.err)"
grep -qi nan div/metrics.csv && fail "diverging: metrics.csv holds nan"
stop_msg=$(sed 's/^[^:]*: error: //' div.err)
"$DIVERGE" train --quiet --out div-skip --on-nonfinite skip 2> skip.err
rc=$?
[ $rc = 1 ] && grep -q "stopped after 100 steps in a row that were not finite" skip.err ||
    fail "diverging, skip: exit $rc: $(tail -1 skip.err)"
loads div-skip/checkpoint.ckpt "$DIVERGE" || fail "diverging, skip: the checkpoint does not load"
"$DIVERGE" train --quiet --out div-ignore --on-nonfinite ignore 2> ignore.err
rc=$?
[ $rc = 1 ] && grep -q "its checkpoint was not saved" ignore.err || fail "diverging, ignore: exit $rc: $(tail -1 ignore.err)"
loads div-ignore/checkpoint.ckpt "$DIVERGE" || fail "diverging, ignore: the checkpoint does not load"
ok "diverging spec: '$stop_msg'; skip and ignore exit 1, every checkpoint left loads"

# ---- 4. a used directory -------------------------------------------------------

begin
cp ref/checkpoint.ckpt used.ckpt
"$RING" train --steps 5 --quiet --out ref 2> used.err
rc=$?
[ $rc = 1 ] && grep -q -- "--resume ref/checkpoint.ckpt, or start afresh over it with --force" used.err ||
    fail "a used directory: exit $rc: $(cat used.err)"
cmp -s used.ckpt ref/checkpoint.ckpt || fail "a used directory: the checkpoint changed"
"$RING" train --steps 5 --quiet --out ref --force || fail "--force"
[ "$(ckpt_step ref/checkpoint.ckpt)" = 5 ] && [ "$(wc -l < ref/metrics.csv)" = 6 ] || fail "--force: not a fresh 5-step run"
ok "a fresh train into a used directory is refused, naming --resume and --force; --force starts afresh"

# ---- 5. a full disk, a file size limit -------------------------------------------

begin
# Resumes run $1 from step 5 to 10 (with $2 before), which must fail with
# message $3 naming a file of $1, leaving its checkpoint and no temporary.
expect_write_error() {
    cp "$1/checkpoint.ckpt" "$TMP/before.ckpt"
    (eval "$2"; "$RING" train --steps 10 --quiet --out "$1" --resume "$1/checkpoint.ckpt") 2> wr.err
    local rc=$?
    [ $rc = 1 ] || fail "$3: exit $rc, not 1: $(cat wr.err)"
    grep -q "error: $1/[a-z./0-9-]*: cannot [a-z]*: $3" wr.err || fail "$3: no message naming the file: $(cat wr.err)"
    cmp -s "$TMP/before.ckpt" "$1/checkpoint.ckpt" || fail "$3: the old checkpoint did not survive"
    [ "$(temps "$1")" = 0 ] || fail "$3: temporary files left"
    sed 's/^[^:]*: error: //' wr.err
}
"$RING" train --steps 5 --quiet --out big || fail "the run before the file size limit"
msg=$(expect_write_error "$TMP/big" "ulimit -f 16" "File too large") # 16 KiB: the checkpoint is 31
ok "ulimit -f: '$msg'"
mkdir -p mnt
if mount -t tmpfs -o size=128k tmpfs mnt 2>/dev/null; then
    MNT=$TMP/mnt
    "$RING" train --steps 5 --quiet --out mnt/run || fail "the run before the disk is full"
    dd if=/dev/zero of=mnt/fill bs=4096 2>/dev/null # until the disk is full
    msg=$(expect_write_error "$MNT/run" ":" "No space left on device")
    ok "a full tmpfs: '$msg'"
    umount mnt && MNT=
else
    echo "faults: skipped: the full-disk test needs a tmpfs mount (root); ulimit -f covered EFBIG"
fi

if [ $failures != 0 ]; then
    echo "faults: $failures failures"
    exit 1
fi
echo "faults: all passed"
