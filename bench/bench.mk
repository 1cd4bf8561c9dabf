# bench.mk: `make bench` times every trainer in BENCH_MODELS against a
# PyTorch 1.13 reference of the same model (bench/run.sh; bench/README.md),
# in two OpenBLAS configurations: headline (OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset) and pinned (OPENBLAS_CORETYPE=Haswell, or the
# environment's).  `make bench-sweep` times dcgan at several batches
# (bench/sweep.sh) and plots bench/sweep.png.
#
#   make bench                         each model's own steps: 2,000 (gan_mlp, dcgan,
#                                      vae), 500 (cyclegan), 100 (dcgan_images); about
#                                      40 minutes on an idle machine
#   make bench BENCH_STEPS=300         the same steps for every model, for a quick look
#   make bench BENCH_MODELS=gan_mlp    one model
#   make bench BENCH_REPEAT=3          best of 3 interleaved runs of each side
#   make bench-sweep                   dcgan at batch 16, 64, 256 (BENCH_SWEEP_BATCHES),
#                                      64,000 examples a run (BENCH_SWEEP_EXAMPLES);
#                                      about 15 minutes

BENCH_MODELS ?= gan_mlp dcgan vae cyclegan dcgan_images
BENCH_STEPS  ?=
BENCH_OUT    ?= $(B)/bench
BENCH_SWEEP_BATCHES ?= 16 64 256

# bench_need PACKAGES: install the Debian packages that are missing
bench_need = dpkg -s $(1) >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y $(1) \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(1); }

bench: all $(BENCH_MODELS)
	@$(call bench_need,python3-torch python3-pil time)
	BENCH_STEPS=$(BENCH_STEPS) BENCH_OUT=$(BENCH_OUT) bash bench/run.sh $(BENCH_MODELS)

# The sweep's trainers: specs/dcgan.gm with `batch N`, as $(BENCH_OUT)/sweep/dcgan_bN.gm,
# compiled and built as the Makefile builds ./dcgan (TRAIN_CFLAGS, KERNELS, RT_LIBS).
SWEEP_DIR := $(BENCH_OUT)/sweep
SWEEP_TRAINERS := $(foreach b,$(BENCH_SWEEP_BATCHES),$(SWEEP_DIR)/dcgan_b$(b))

$(SWEEP_DIR):
	mkdir -p $@

$(SWEEP_DIR)/dcgan_b%.gm: specs/dcgan.gm | $(SWEEP_DIR)
	sed -e 's/^model dcgan$$/model dcgan_b$*/' -e '/^train {/s/batch [0-9][0-9]*/batch $*/' $< >$@.tmp
	@grep -q '^model dcgan_b$*$$' $@.tmp && grep -q '^train {.*batch $*;' $@.tmp \
	    || { echo "bench.mk: specs/dcgan.gm has no 'model dcgan' or 'train { batch N; ...' line to rewrite" >&2; exit 1; }
	mv $@.tmp $@

$(SWEEP_DIR)/dcgan_b%.c: $(SWEEP_DIR)/dcgan_b%.gm $(B)/genc
	$(B)/genc $< -o $@

$(SWEEP_DIR)/dcgan_b%.f64.o: $(SWEEP_DIR)/dcgan_b%.c runtime/genrt_model.h runtime/genrt_kernels.h runtime/genrt_hash.h
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) -DGENC_DOUBLE -c $< -o $@

$(SWEEP_DIR)/dcgan_b%: $(SWEEP_DIR)/dcgan_b%.c $(SWEEP_DIR)/dcgan_b%.f64.o $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(SWEEP_DIR)/dcgan_b$*.f64.o $(RT_LIBS) -o $@

bench-sweep: all $(SWEEP_TRAINERS)
	@$(call bench_need,python3-torch python3-matplotlib time)
	BENCH_OUT=$(BENCH_OUT) BENCH_SWEEP_BATCHES="$(BENCH_SWEEP_BATCHES)" bash bench/sweep.sh

.PHONY: bench bench-sweep

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
# oneDNN's (bench/conv_kernels.c), and gan_mlp's and vae's dense GEMMs on
# OpenBLAS against oneDNN's dnnl_sgemm (bench/dense_kernels.c; both in
# bench/README.md, Levers): the measurements that picked which kernels
# trainers hand to oneDNN (compiler/passes/conv.c, runtime/genrt_kernels.h).
$(B)/conv_kernels $(B)/dense_kernels: $(B)/%: bench/%.c bench/kernel_bench.h | $(B)
	$(CC) -std=c11 -O2 -march=native $(KERNELS) -Wall -Wextra $< $(BLAS_CFLAGS) $(BLAS_LIBS) -ldnnl -o $@

bench-kernels: $(B)/conv_kernels $(B)/dense_kernels
	$(B)/conv_kernels $(or $(THREADS),2)
	$(B)/dense_kernels $(or $(THREADS),2)

.PHONY: bench-kernels
