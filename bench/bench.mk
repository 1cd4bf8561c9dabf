# bench.mk: `make bench` times every trainer in BENCH_MODELS against a
# PyTorch 1.13 reference of the same model (bench/run.sh; bench/README.md).
#
#   make bench                         2,000 steps of each, about 12 minutes
#   make bench BENCH_STEPS=300         shorter runs
#   make bench BENCH_MODELS=gan_mlp    one model
#   make bench BENCH_REPEAT=3          best of 3 interleaved runs of each side
#   make bench BENCH_UNSET_CORETYPE=1  also measure with OPENBLAS_CORETYPE unset

BENCH_MODELS ?= gan_mlp dcgan vae
BENCH_STEPS  ?= 2000

bench: all $(BENCH_MODELS)
	@dpkg -s python3-torch time >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch time \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch time; }
	BENCH_STEPS=$(BENCH_STEPS) bash bench/run.sh $(BENCH_MODELS)

.PHONY: bench

# genrt_score's FD and precision/recall at 10,000 vs 10,000 (bench/score_bench.c).
$(B)/score_bench: bench/score_bench.c $(B)/libgenrt.a
	$(CC) $(BASE) $(CFLAGS) $(BLAS_CFLAGS) $< -o $@ $(RT_LIBS)

bench-score: $(B)/score_bench
	$(B)/score_bench 10000 128 512

.PHONY: bench-score

# Data-parallel training: 1 rank x 2 threads against 2 ranks x 1 thread, and
# the scaling model for many machines (bench/mpi.sh; bench/README.md).
bench-mpi: all $(B)/mpi/dcgan.f32 $(B)/mpi/gan_mlp.f32 $(B)/mpi/dcgan_images.f32 $(B)/mpi/cyclegan.f32
	bash bench/mpi.sh

.PHONY: bench-mpi

# dcgan's four convolution layers, each pass, genc's im2col + sgemm against
# oneDNN's (bench/conv_kernels.c; bench/README.md, Levers): the measurement
# that picked which passes trainers hand to oneDNN (compiler/passes/conv.c).
$(B)/conv_kernels: bench/conv_kernels.c | $(B)
	$(CC) -std=c11 -O2 -march=native $(KERNELS) -Wall -Wextra $< $(BLAS_CFLAGS) $(BLAS_LIBS) -ldnnl -o $@

bench-kernels: $(B)/conv_kernels
	$(B)/conv_kernels $(or $(THREADS),2)

.PHONY: bench-kernels
