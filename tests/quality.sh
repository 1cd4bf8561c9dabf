#!/usr/bin/env bash
# make quality: the slow quality bars, with their numbers (not part of make test).
#   gan_ring      5,000 steps, seeds 0 1 2: modes covered (>= 7 median, >= 6 each), % within 3 std (>= 80%)
#   wgan_gp_ring  10,000 steps, 5 critic steps: modes covered (>= 7 of 8)
#   wgan, wgan_gp 3,000 steps: the critic's Wasserstein estimate W falls; sample grids
#   cgan          3,000 steps: a sample grid with one row per class
#   lsgan, hinge  QUALITY_STEPS steps: sample grids
#   vae, conv_vae 3,000 steps: test -ELBO (vae <= 250 nats; conv_vae below vae)
# QUALITY_STEPS scales the Fashion-MNIST runs (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/quality
mkdir -p "$out"
steps=${QUALITY_STEPS:-3000}

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

echo "== gan_ring: 5,000 steps, seeds 0 1 2"
for s in 0 1 2; do
    ./gan_ring train --steps 5000 --seed $s --quiet --out $out/gan_ring$s
    ./gan_ring sample --checkpoint $out/gan_ring$s/checkpoint.ckpt -n 2500 --seed 7 -o $out/gan_ring$s.csv
    echo "  seed $s: $(modes $out/gan_ring$s.csv)"
done

echo "== wgan_gp_ring: 10,000 steps, 5 critic steps, lambda 10"
./wgan_gp_ring train --steps 10000 --seed 1 --quiet --out $out/wgan_gp_ring
./wgan_gp_ring sample --checkpoint $out/wgan_gp_ring/checkpoint.ckpt -n 2500 --seed 7 -o $out/wgan_gp_ring.csv
echo "  $(modes $out/wgan_gp_ring.csv)   (bar: >= 7 of 8)"

for m in wgan wgan_gp; do
    echo "== $m: $steps steps on Fashion-MNIST"
    ./$m train --steps "$steps" --seed 1 --quiet --out $out/$m
    ./$m sample --checkpoint $out/$m/checkpoint.ckpt -n 64 -o $out/$m.png
    echo "  $(trend $out/$m/metrics.csv W)   (bar: W falls)"
    echo "  samples: $out/$m.png"
done

echo "== cgan: $steps steps on Fashion-MNIST"
./cgan train --steps "$steps" --seed 1 --quiet --out $out/cgan
./cgan sample --checkpoint $out/cgan/checkpoint.ckpt -n 80 -o $out/cgan.png
echo "  one row per class (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,"
echo "  7 sneaker, 8 bag, 9 ankle boot): $out/cgan.png"

for m in lsgan hinge; do
    echo "== $m: $steps steps on Fashion-MNIST"
    ./$m train --steps "$steps" --seed 1 --quiet --out $out/$m
    ./$m sample --checkpoint $out/$m/checkpoint.ckpt -n 64 -o $out/$m.png
    echo "  samples: $out/$m.png"
done

for m in vae conv_vae; do
    echo "== $m: 3,000 steps on Fashion-MNIST"
    ./$m train --steps 3000 --seed 1 --quiet --out $out/$m
    ./$m eval --checkpoint $out/$m/checkpoint.ckpt | sed 's/^/  /'
    ./$m reconstruct --checkpoint $out/$m/checkpoint.ckpt -o $out/$m-reconstructions.png
done
echo "  (bars: vae test -ELBO <= 250 nats; conv_vae's below vae's)"
