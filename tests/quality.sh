#!/usr/bin/env bash
# make quality: the slow quality bars, with their numbers (not part of make test).
#   gan_ring      5,000 steps, seeds 0 1 2: modes covered (>= 7 median, >= 6 each), % within 3 std (>= 80%)
#   wgan_gp_ring  10,000 steps, 5 critic steps: modes covered (>= 7 of 8)
#   wgan, wgan_gp 3,000 steps: the critic's Wasserstein estimate W falls; sample grids
#   fmnist_classifier  5,000 steps: test accuracy (>= 90%); score --reference (real test vs train)
#   cgan          2,000 steps, seeds 1 2 3: score's label_acc (mean >= 0.85); a grid, a row per class
#   ema           dcgan with `ema 0.999` on G, 3,000 steps, seeds 1 2 3: score's fd of the moving
#                 average against the same run's raw weights (--no-ema): >= 15% lower
#   augment       dcgan on the first 2,000 Fashion-MNIST images (`limit 2000`), 3,000 steps, seeds
#                 1 2 3, with `augment { translation; cutout }` and without: fd >= 20% lower with
#   sngan         specs/sngan.gm, 3,000 steps, seeds 1 2 3: fd no worse than dcgan's (ema's raw runs)
#   lsgan, hinge  QUALITY_STEPS steps: sample grids
#   vae, cvae, conv_vae  3,000 steps: test -ELBO (vae <= 250 nats; cvae's and conv_vae's below
#                 vae's); cvae: a sample grid with one row per class
#   cyclegan      2,000 steps: the cycle L1 falls >= 5x from its start; G(a) nearer the boots' mean
#                 image than the sneakers' (and F(b) the other way); translation grids; gradcheck
#   int8          dcgan's sampler from the demo's checkpoint (runs/demo; else 2,000 steps), float
#                 against --quantize int8: weight bytes (<= 0.3x), max and mean absolute deviation
# QUALITY_STEPS scales the Fashion-MNIST runs (default 3000); QUALITY_ONLY="vae cyclegan" runs only
# the sections of those models; QUALITY_SEEDS (default "1 2 3") the seeds of the three-seed bars;
# QUALITY_THREADS=N passes --threads N to their train and score (two sections side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/quality
mkdir -p "$out"
steps=${QUALITY_STEPS:-3000}
seeds=${QUALITY_SEEDS:-1 2 3}
thr=(${QUALITY_THREADS:+--threads "$QUALITY_THREADS"})
want() { [[ -z "${QUALITY_ONLY:-}" || " $QUALITY_ONLY " == *" $1 "* ]]; }

# modes covered by a CSV of 2-D samples: a sample within 3 std (0.15) of one
# of the 8 centres is high quality; a mode holding >= 1% of them is covered
modes() {
    awk -F, '{ n++; for (k = 0; k < 8; k++) { a = 2 * atan2(0, -1) * k / 8;
               dx = $1 - 2 * cos(a); dy = $2 - 2 * sin(a);
               if (dx * dx + dy * dy <= 0.0225) { c[k]++; hq++; break } } }
         END { m = 0; for (k = 0; k < 8; k++) if (c[k] >= 0.01 * n) m++;
               printf "%d of 8 modes, %.1f%% within 3 std", m, 100 * hq / n }' "$1"
}

# mean of a metrics.csv column over the first and last tenth of the run
trend() {
    awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
         { v[NR - 1] = $c; n = NR - 1 }
         END { t = int(n / 10); for (i = 1; i <= t; i++) { a += v[i]; b += v[n - t + i] }
               printf "%s: %.4f over the first %d steps, %.4f over the last %d", col, a / t, t, b / t, t }' "$1"
}

# one metric of a score line: metric "fd=1.2 precision=0.7" fd -> 1.2
metric() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# mean and spread of numbers: "m (sd s, lo to hi)"
stats() {
    printf '%s\n' "$@" | awk '{ v[NR] = $1; s += $1 } END { m = s / NR; for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2
        lo = hi = v[1]; for (i = 2; i <= NR; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
        printf "%.4g (sd %.2g, %.4g to %.4g)", m, (NR > 1 ? sqrt(d / (NR - 1)) : 0), lo, hi }'
}
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s / NR }'; }

# bar WHAT MAX A... -- B...: the ratio of the means of the fds A and B,
# printed with both sides' stats, and a BELOW THE BAR line above MAX
bar() {
    local what=$1 max=$2 a=() b=()
    shift 2
    while [[ $1 != -- ]]; do a+=("$1"); shift; done
    shift
    b=("$@")
    local r
    r=$(awk -v a="$(mean "${a[@]}")" -v b="$(mean "${b[@]}")" 'BEGIN { printf "%.3f", a / b }')
    echo "  fd $what $(stats "${a[@]}") against $(stats "${b[@]}"): ratio $r   (bar: <= $max)"
    awk -v r="$r" -v m="$max" 'BEGIN { exit !(r <= m) }' || echo "  BELOW THE BAR: ratio $r > $max"
}

# variant NAME SED CHECK: specs/dcgan.gm changed by the sed script SED
# (which must give a spec holding CHECK), built as build/quality/NAME
variant() {
    sed -e "s/^model dcgan$/model $1/" -e "$2" specs/dcgan.gm > $out/$1.gm.new
    grep -qF "$3" $out/$1.gm.new || { echo "quality: specs/dcgan.gm changed: no '$3' in $1's variant" >&2; exit 1; }
    if cmp -s $out/$1.gm.new $out/$1.gm; then rm $out/$1.gm.new; else mv $out/$1.gm.new $out/$1.gm; fi
    make -s --no-print-directory $out/$1
}

# train_scored TRAINER RUN SEED STEPS [SCORE FLAGS]: trains a run, leaves its score line in $scored
train_scored() {
    local t=$1 run=$2 seed=$3 n=$4
    shift 4
    "$t" train --steps "$n" --seed "$seed" --quiet --out "$run" --force "${thr[@]}"
    scored=$("$t" score --classifier $cls --checkpoint "$run/checkpoint.ckpt" "${thr[@]}" "$@")
}

cls=$out/fmnist_classifier/checkpoint.ckpt
if want fmnist_classifier || { [[ ! -f $cls ]] && { want cgan || want ema || want augment || want sngan; }; }; then
    echo "== fmnist_classifier: 5,000 steps on Fashion-MNIST"
    SECONDS=0
    ./fmnist_classifier train --seed 1 --quiet --out $out/fmnist_classifier --force
    echo "  trained in ${SECONDS} s"
    ./fmnist_classifier eval --checkpoint $cls | tee $out/fmnist_classifier.txt | sed 's/^/  /'
    acc=$(sed -n 's/^test: accuracy \([0-9.]*\).*/\1/p' $out/fmnist_classifier.txt)
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }' || echo "  BELOW THE BAR: test accuracy $acc < 0.90"
    echo "  real test vs real train (the floor of score): $(./dcgan score --classifier $cls --reference)"
fi

want gan_ring && for s in 0 1 2; do
    [[ $s == 0 ]] && echo "== gan_ring: 5,000 steps, seeds 0 1 2"
    ./gan_ring train --steps 5000 --seed $s --quiet --out $out/gan_ring$s --force
    ./gan_ring sample --checkpoint $out/gan_ring$s/checkpoint.ckpt -n 2500 --seed 7 -o $out/gan_ring$s.csv
    echo "  seed $s: $(modes $out/gan_ring$s.csv)"
done

if want wgan_gp_ring; then
    echo "== wgan_gp_ring: 10,000 steps, 5 critic steps, lambda 10"
    ./wgan_gp_ring train --steps 10000 --seed 1 --quiet --out $out/wgan_gp_ring --force
    ./wgan_gp_ring sample --checkpoint $out/wgan_gp_ring/checkpoint.ckpt -n 2500 --seed 7 -o $out/wgan_gp_ring.csv
    echo "  $(modes $out/wgan_gp_ring.csv)   (bar: >= 7 of 8)"
fi

for m in wgan wgan_gp; do
    want $m || continue
    echo "== $m: $steps steps on Fashion-MNIST"
    ./$m train --steps "$steps" --seed 1 --quiet --out $out/$m --force
    ./$m sample --checkpoint $out/$m/checkpoint.ckpt -n 64 -o $out/$m.png
    echo "  $(trend $out/$m/metrics.csv W)   (bar: W falls)"
    echo "  samples: $out/$m.png"
done

if want cgan; then
    echo "== cgan: 2,000 steps on Fashion-MNIST, seeds $seeds"
    acc=()
    for s in $seeds; do
        train_scored ./cgan $out/cgan$s $s 2000
        echo "  seed $s: $scored"
        acc+=("$(metric "$scored" label_acc)")
    done
    ./cgan sample --checkpoint $out/cgan${seeds%% *}/checkpoint.ckpt -n 80 -o $out/cgan.png
    echo "  label_acc: $(stats "${acc[@]}")   (bar: mean >= 0.85)"
    awk -v a="$(mean "${acc[@]}")" 'BEGIN { exit !(a >= 0.85) }' || echo "  BELOW THE BAR: mean label_acc < 0.85"
    echo "  one row per class (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,"
    echo "  7 sneaker, 8 bag, 9 ankle boot): $out/cgan.png"
fi

# ema: one run gives both sides, since the moving average never changes
# training: its raw weights (--no-ema) are the run without ema, which
# the first lines check on a short run (the samples of ./dcgan's own run
# and of the variant's raw weights are the same bytes).
dcgan_fd=()
if want ema || want sngan; then
    echo "== ema: dcgan with 'ema 0.999' on G, $steps steps, seeds $seeds"
    variant dcgan_ema 's/^\(optimize G with adam { .*\) }$/\1; ema 0.999 }/' "ema 0.999"
    ./dcgan train --steps 50 --seed 1 --quiet --out $out/ema_same_a --force "${thr[@]}"
    $out/dcgan_ema train --steps 50 --seed 1 --quiet --out $out/ema_same_b --force "${thr[@]}"
    ./dcgan sample --checkpoint $out/ema_same_a/checkpoint.ckpt -n 64 -o $out/ema_same_a.npy
    $out/dcgan_ema sample --checkpoint $out/ema_same_b/checkpoint.ckpt --no-ema -n 64 -o $out/ema_same_b.npy
    if cmp -s $out/ema_same_a.npy $out/ema_same_b.npy; then
        echo "  after 50 steps, dcgan's samples and the ema variant's raw ones are the same bytes"
    else
        echo "  NOT THE SAME RUN: dcgan's samples differ from the ema variant's raw ones after 50 steps"
    fi
    with=()
    for s in $seeds; do
        train_scored $out/dcgan_ema $out/dcgan_ema$s $s "$steps"
        with+=("$(metric "$scored" fd)")
        raw=$($out/dcgan_ema score --classifier $cls --checkpoint $out/dcgan_ema$s/checkpoint.ckpt --no-ema "${thr[@]}")
        dcgan_fd+=("$(metric "$raw" fd)")
        echo "  seed $s: ema: $scored"
        echo "          raw: $raw"
    done
    bar "with ema (against the raw weights)" 0.85 "${with[@]}" -- "${dcgan_fd[@]}"
    s=${seeds%% *}
    $out/dcgan_ema sample --checkpoint $out/dcgan_ema$s/checkpoint.ckpt -n 64 --seed 7 -o $out/ema.png
    $out/dcgan_ema sample --checkpoint $out/dcgan_ema$s/checkpoint.ckpt -n 64 --seed 7 --no-ema -o $out/ema-raw.png
    echo "  the same latents through the average and the raw weights: $out/ema.png $out/ema-raw.png"
fi

if want sngan; then
    echo "== sngan: $steps steps, seeds $seeds, against dcgan's fd (the raw runs above)"
    sn=()
    for s in $seeds; do
        train_scored ./sngan $out/sngan$s $s "$steps"
        echo "  seed $s: $scored"
        sn+=("$(metric "$scored" fd)")
    done
    bar "of sngan (against dcgan's)" 1.0 "${sn[@]}" -- "${dcgan_fd[@]}"
    ./sngan sample --checkpoint $out/sngan${seeds%% *}/checkpoint.ckpt -n 64 --seed 7 -o $out/sngan.png
    echo "  samples: $out/sngan.png"
fi

if want augment; then
    echo "== augment: dcgan on the first 2,000 training images, $steps steps, seeds $seeds"
    lim='s/^\(data fashion_mnist { .*\) }$/\1 limit 2000; }/'
    variant dcgan_small "$lim" "limit 2000"
    variant dcgan_small_aug "$lim; /^latent /i augment { translation; cutout }" "augment { translation; cutout }"
    plain=() aug=()
    for s in $seeds; do
        train_scored $out/dcgan_small $out/dcgan_small$s $s "$steps"
        echo "  seed $s: without: $scored"
        plain+=("$(metric "$scored" fd)")
        train_scored $out/dcgan_small_aug $out/dcgan_small_aug$s $s "$steps"
        echo "          with:    $scored"
        aug+=("$(metric "$scored" fd)")
    done
    bar "with augment (against without)" 0.80 "${aug[@]}" -- "${plain[@]}"
    s=${seeds%% *}
    $out/dcgan_small sample --checkpoint $out/dcgan_small$s/checkpoint.ckpt -n 64 --seed 7 -o $out/augment-without.png
    $out/dcgan_small_aug sample --checkpoint $out/dcgan_small_aug$s/checkpoint.ckpt -n 64 --seed 7 -o $out/augment.png
    echo "  samples: $out/augment.png (without: $out/augment-without.png)"
fi

for m in lsgan hinge; do
    want $m || continue
    echo "== $m: $steps steps on Fashion-MNIST"
    ./$m train --steps "$steps" --seed 1 --quiet --out $out/$m --force
    ./$m sample --checkpoint $out/$m/checkpoint.ckpt -n 64 -o $out/$m.png
    echo "  samples: $out/$m.png"
done

for m in vae cvae conv_vae; do
    want $m || continue
    echo "== $m: 3,000 steps on Fashion-MNIST"
    ./$m train --steps 3000 --seed 1 --quiet --out $out/$m --force
    ./$m eval --checkpoint $out/$m/checkpoint.ckpt | sed 's/^/  /'
    ./$m reconstruct --checkpoint $out/$m/checkpoint.ckpt -o $out/$m-reconstructions.png
    if [[ $m == cvae ]]; then
        ./cvae sample --checkpoint $out/cvae/checkpoint.ckpt -n 80 -o $out/cvae.png
        echo "  one row per class: $out/cvae.png"
    fi
done
{ want vae || want cvae || want conv_vae; } && echo "  (bars: vae test -ELBO <= 250 nats; cvae's and conv_vae's below vae's)"

if want cyclegan; then
    echo "== cyclegan: 2,000 steps, sneakers (class 7) <-> ankle boots (class 9)"
    ./cyclegan train --steps 2000 --seed 1 --quiet --out $out/cyclegan --force
    awk -F, 'NR == 2 { first = $5 } NR > 1 { v[NR - 1] = $5; n = NR - 1 }
         END { t = int(n / 10); for (i = n - t + 1; i <= n; i++) s += v[i]; last = s / t;
               printf "  cycle L1: %.4f at step 1, %.4f over the last %d steps: %.1fx lower   (bar: >= 5x)\n",
                      first, last, t, first / last }' $out/cyclegan/metrics.csv
    echo "  $(trend $out/cyclegan/metrics.csv cycle)"
    for d in A B; do
        ./cyclegan translate --checkpoint $out/cyclegan/checkpoint.ckpt --from $d -n 16 -o $out/cyclegan-$d.png
        ./cyclegan translate --checkpoint $out/cyclegan/checkpoint.ckpt --from $d -n 1000 -o $out/cyclegan-$d.npy
    done
    echo "  G(a), 1000 test sneakers: $(python3 tests/nearest_mean.py $out/cyclegan-A.npy /usr/share/datasets/fashion-mnist 7 9)"
    echo "  F(b), 1000 test boots:    $(python3 tests/nearest_mean.py $out/cyclegan-B.npy /usr/share/datasets/fashion-mnist 9 7)"
    echo "  translation grids (a | G(a) | F(G(a)), b | F(b) | G(F(b))): $out/cyclegan-A.png $out/cyclegan-B.png"
    echo "  $(./cyclegan gradcheck | tail -1)"
fi

if want int8; then
    # the demo's checkpoint (make demo: 2,000 steps), else a run like it
    ckpt=runs/demo/checkpoint.ckpt
    if [[ ! -f $ckpt ]]; then
        ./dcgan train --steps 2000 --seed 1 --quiet --out $out/int8_dcgan --force
        ckpt=$out/int8_dcgan/checkpoint.ckpt
    fi
    echo "== int8: dcgan's sampler from $ckpt, float against --quantize int8"
    build/genc specs/dcgan.gm --sampler --weights "$ckpt" -o $out/dcgan_f.c
    build/genc specs/dcgan.gm --sampler --weights "$ckpt" --quantize int8 -o $out/dcgan_q.c
    bytes() { awk '/^static const real [a-z0-9_]*\[/ { split($4, a, /[][]/); b += 4 * a[2] }
                   /^static const signed char [a-z0-9_]*\[/ { split($5, a, /[][]/); b += a[2] }
                   END { print b }' "$1"; }
    fb=$(bytes $out/dcgan_f.c) qb=$(bytes $out/dcgan_q.c)
    gcc -std=c99 -O2 -I$out -DFLOAT_H='"dcgan_f.h"' -DFLOAT_SEED=dcgan_f_sample_seed -DINT8_H='"dcgan_q.h"' \
        -DINT8_SEED=dcgan_q_sample_seed -DOUT_C=1 -DOUT_SIZE=784 tests/quant_check.c $out/dcgan_f.c $out/dcgan_q.c \
        -lm -o $out/int8_check
    read -r _ max _ rel _ mad _ <<<"$($out/int8_check 1000)"
    awk -v f="$fb" -v q="$qb" -v max="$max" -v rel="$rel" -v mad="$mad" 'BEGIN {
        printf "  weights: %d bytes int8 (with their scales and the float biases) against %d float: %.3f   (bar: <= 0.3)\n", q, f, q / f
        printf "  over 1,000 samples (seeds 1-1000): max deviation %.4f (%.4f of the output range), mean absolute deviation %.5f\n", max, rel, mad }'
fi
