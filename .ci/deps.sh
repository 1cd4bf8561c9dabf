#!/usr/bin/env bash
# Install genc's Debian dependencies when any is missing (needs root or sudo).
set -euo pipefail
# graphviz: dot, which tests/test_frontend.c runs on genc --dot's output and the run report draws with
# chromium: make report-check renders a run's report.html headless and checks its pixels
# libclang-rt-14-dev: the libFuzzer and sanitizer runtimes for tests/fuzz/ (clang only recommends it)
# lld-14, wasi-libc: genc --target wasm (wasm-ld; libm and memcpy for wasm32; no compiler-rt builtins
#   are needed: the sampler links without them); chromium: tests/wasm_check.py draws the page headless
# libopenblas0-openmp: OpenBLAS on libgomp's threads, which trainers load (Makefile, KERNELS)
# libdnnl-dev: oneDNN, which runs trainers' convolutions (runtime/genrt_dnnl.c, Makefile KERNELS)
# libopenmpi-dev, openmpi-bin: data-parallel trainers (make NAME MPI=1; mpicc, mpirun) and their tests
pkgs="flex bison make gcc clang libclang-rt-14-dev pkg-config binutils python3 libopenblas-dev libopenblas0-openmp libdnnl-dev libcriterion-dev zlib1g-dev libstb-dev dataset-fashion-mnist man-db graphviz lld-14 wasi-libc chromium libopenmpi-dev openmpi-bin"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
