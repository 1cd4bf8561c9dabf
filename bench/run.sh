#!/usr/bin/env bash
# bench/run.sh: genc's trainers against PyTorch 1.13 on the same model, batch,
# optimizers, data and cores, measured side by side in one run.
#
#   bash bench/run.sh [MODEL...]    (default: gan_mlp dcgan vae cyclegan dcgan_images)
#
# For each model, in each of two OpenBLAS configurations (headline: as users
# run both programs, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; pinned:
# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}): ms/step over each model's
# first steps of real training, peak RSS, and genc's GFLOP/s against the OpenBLAS
# sgemm peak measured here, now, in the same configuration.  Every target is
# printed met or MISSED, and a markdown summary per configuration ends the
# output.  See bench/README.md.
#
# Environment (and those of bench/lib.sh):
#   BENCH_STEPS=N                steps per run for every model (default: each
#                                model's own, MODEL_STEPS below)
#   BENCH_IMAGES=$BENCH_OUT/images  the folder of images dcgan_images trains on;
#                                bench/images.py writes it (BENCH_IMAGES_N images)
#   BENCH_IMAGES_N=4096
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DEFAULT_MODELS="gan_mlp dcgan vae cyclegan dcgan_images"
declare -A MODEL_STEPS=([gan_mlp]=2000 [dcgan]=2000 [vae]=2000 [cyclegan]=500 [dcgan_images]=100)
IMAGES=${BENCH_IMAGES:-$OUT/images}
IMAGES_N=${BENCH_IMAGES_N:-4096}
TIMING_LOG=$OUT/timing.log

# Targets: genc/PyTorch time, genc's share of the sgemm peak (of the same
# configuration), genc/PyTorch peak RSS.
declare -A TARGET_MS=([dcgan]=0.5 [gan_mlp]=0.4 [vae]=0.5 [cyclegan]=0.5 [dcgan_images]=0.5)
declare -A TARGET_PEAK=([dcgan]=0.70 [gan_mlp]=0.60 [vae]=0.50 [cyclegan]=0.60 [dcgan_images]=0.70)
declare -A TARGET_RSS=([dcgan]=0.25 [gan_mlp]=0.25 [vae]=0.25 [cyclegan]=0.25 [dcgan_images]=0.25)

# The metrics compared at the end of training, as genc's metrics.csv names
# its columns and torch_gan.py its result keys; the models torch_gan.py knows.
GAN_METRICS="loss_D loss_G D_x D_G_z"
declare -A METRICS=([gan_mlp]=$GAN_METRICS [dcgan]=$GAN_METRICS [dcgan_images]=$GAN_METRICS
                    [vae]="loss rec kl" [cyclegan]="loss_G loss_DA loss_DB cycle")
declare -A METRIC_LABEL=([D_x]='D(x)' [D_G_z]='D(G(z))')

if [ $# -gt 0 ]; then MODELS=("$@"); else read -r -a MODELS <<<"$DEFAULT_MODELS"; fi

# ---- checks before anything is timed ---------------------------------------

[ -z "${BENCH_STEPS:-}" ] || positive BENCH_STEPS "$BENCH_STEPS"
positive BENCH_IMAGES_N "$IMAGES_N"
check_tools

declare -A FLOPS PARAMS BATCH STEPS_OF DATA_ARGS
for m in "${MODELS[@]}"; do
    [ -f "specs/$m.gm" ] || die "no spec specs/$m.gm"
    [ -n "${METRICS[$m]:-}" ] \
        || die "bench/torch_gan.py has no PyTorch reference for $m (it has: ${!METRICS[*]})"
    [ -x "./$m" ] || die "./$m not found; run 'make $m'"
    summarize "specs/$m.gm"
    BATCH[$m]=$SUM_BATCH FLOPS[$m]=$SUM_FLOPS PARAMS[$m]=$SUM_PARAMS
    check_params "$m" "$SUM_PARAMS" "specs/$m.gm"
    STEPS_OF[$m]=${BENCH_STEPS:-${MODEL_STEPS[$m]:-2000}}
    DATA_ARGS[$m]=''
done
if [[ " ${MODELS[*]} " == *" dcgan_images "* ]]; then
    "$PYTHON" -c 'import PIL' 2>/dev/null \
        || die "$PYTHON cannot import PIL, which dcgan_images's images need; apt-get install python3-pil"
    DATA_ARGS[dcgan_images]="--data $IMAGES"
    [[ "$IMAGES" != *" "* ]] || die "BENCH_IMAGES must not contain spaces, got '$IMAGES'"
fi

take_lock
: >"$TIMING_LOG"
build_sgemm
if [ -n "${DATA_ARGS[dcgan_images]:-}" ]; then
    "$PYTHON" bench/images.py "$IMAGES" -n "$IMAGES_N" || die "bench/images.py could not write $IMAGES"
fi

# ---- the tables ------------------------------------------------------------

row() { printf '  %-22s %10s %10s %13s   %-8s %s\n' "$@"; }

# report MODEL CONFIG: one block of the table from G_* and T_*; keeps the
# numbers for the summary in R_*[CONFIG:MODEL]
declare -A R_GMS R_TMS R_MS R_PEAK R_RSS
report() {
    local m=$1 c=$2
    local f=${FLOPS[$m]} steps=${STEPS_OF[$m]} peak=${PEAKS[$c]} ms_ratio rss_ratio g_gf t_gf g_frac t_frac
    local tm=${TARGET_MS[$m]:-} tr=${TARGET_RSS[$m]:-} tp=${TARGET_PEAK[$m]:-}
    ms_ratio=$(calc "$G_MS / $T_MS")
    rss_ratio=$(calc "$G_RSS / $T_RSS")
    g_gf=$(calc "$f / ($G_MS / 1000) / 1e9")
    t_gf=$(calc "$f / ($T_MS / 1000) / 1e9")
    g_frac=$(calc "$g_gf / $peak")
    t_frac=$(calc "$t_gf / $peak")
    R_GMS[$c:$m]=$G_MS R_TMS[$c:$m]=$T_MS R_MS[$c:$m]=$ms_ratio R_PEAK[$c:$m]=$g_frac R_RSS[$c:$m]=$rss_ratio

    echo "  [${CONFIG_LABEL[$c]}; OpenBLAS core ${CORES[$c]}]"
    row "" genc PyTorch genc/PyTorch target ""
    row "ms/step" "$(printf %.2f "$G_MS")" "$(printf %.2f "$T_MS")" "$(printf %.3f "$ms_ratio")" \
        "${tm:+<= $tm}" "${tm:+$(verdict "$ms_ratio" '<=' "$tm")}"
    row "peak RSS (MiB)" "$(calc "sprintf(\"%.1f\", $G_RSS / $MIB)")" \
        "$(calc "sprintf(\"%.1f\", $T_RSS / $MIB)")" "$(printf %.3f "$rss_ratio")" \
        "${tr:+<= $tr}" "${tr:+$(verdict "$rss_ratio" '<=' "$tr")}"
    row "GFLOP/s" "$(printf %.1f "$g_gf")" "$(printf %.1f "$t_gf")" "" "" ""
    row "% of sgemm peak" "$(calc "sprintf(\"%.0f%%\", 100 * $g_frac)")" \
        "$(calc "sprintf(\"%.0f%%\", 100 * $t_frac)")" "" \
        "${tp:+>= $(calc "100 * $tp")%}" "${tp:+$(verdict "$g_frac" '>=' "$tp")}"
    echo "  sgemm peak $(printf %.1f "$peak") GFLOP/s on $THREADS threads; step FLOPs $f;" \
         "parameters ${PARAMS[$m]} (the same on both sides)"
    echo "  runs, ms/step: genc (--threads) $G_ALL; PyTorch (threads:BLAS threads) $T_ALL"
    echo "  fastest settings: genc $G_CFG; PyTorch $T_CFG"
    echo "  mean of steps $((steps > TAIL ? steps - TAIL + 1 : 1))-$steps:" \
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

# cell VALUE OP TARGET [SHOWN]: "met (<= TARGET)", "MISSED (<= TARGET)" (SHOWN
# in place of TARGET when given), or "" without a target
cell() { [ -z "$3" ] || echo "$(verdict "$1" "$2" "$3") ($2 ${4:-$3})"; }

# summary CONFIG: the markdown table of one configuration, a row per model
summary() {
    local c=$1 m tm tp tr
    echo
    echo "### ${CONFIG_LABEL[$c]}"
    echo
    echo "sgemm peak $(printf %.1f "${PEAKS[$c]}") GFLOP/s (core ${CORES[$c]}), $THREADS threads each side," \
         "best of $REPEAT run(s)"
    echo
    echo "| model | steps | genc ms/step | PyTorch ms/step | genc/PyTorch | target | share of sgemm peak | target | peak RSS genc/PyTorch | target |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for m in "${MODELS[@]}"; do
        tm=${TARGET_MS[$m]:-} tp=${TARGET_PEAK[$m]:-} tr=${TARGET_RSS[$m]:-}
        printf '| %s | %s | %.2f | %.2f | %.3f | %s | %s | %s | %.3f | %s |\n' "$m" "${STEPS_OF[$m]}" \
            "${R_GMS[$c:$m]}" "${R_TMS[$c:$m]}" "${R_MS[$c:$m]}" "$(cell "${R_MS[$c:$m]}" '<=' "$tm")" \
            "$(calc "sprintf(\"%.0f%%\", 100 * ${R_PEAK[$c:$m]})")" \
            "$(cell "${R_PEAK[$c:$m]}" '>=' "$tp" "${tp:+$(calc "100 * $tp")%}")" \
            "${R_RSS[$c:$m]}" "$(cell "${R_RSS[$c:$m]}" '<=' "$tr")"
    done
}

# ---- run -------------------------------------------------------------------

echo "genc benchmark: Fashion-MNIST (dcgan_images: $IMAGES_N images in $IMAGES), seed $SEED," \
     "$THREADS threads each side, best of $REPEAT run(s)"
print_header
for c in "${CONFIGS[@]}"; do sgemm "$c"; done

for m in "${MODELS[@]}"; do
    echo
    echo "== $m: batch ${BATCH[$m]}, first ${STEPS_OF[$m]} steps =="
    for c in "${CONFIGS[@]}"; do
        RUN_ENV=${CONFIG_ENV[$c]}
        # shellcheck disable=SC2086  # DATA_ARGS entries are words to split
        measure "$m-$c" "./$m" "$m" "${STEPS_OF[$m]}" "${BATCH[$m]}" "${PARAMS[$m]}" "${METRICS[$m]}" \
            ${DATA_ARGS[$m]}
        report "$m" "$c"
    done
done

echo
echo "## Summary"
for c in "${CONFIGS[@]}"; do summary "$c"; done
print_warnings
if [ ${#WARNINGS[@]} -gt 0 ]; then
    echo "  (${#WARNINGS[@]} warning(s): a table with warnings is not a measurement; run it again on an idle machine)"
fi
