# tests.mk: `make test` builds every suite twice, plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer, and runs both; then the
# fault injection (tests/faults.sh) on real trainers, plain and sanitized;
# then the run report in headless Chromium (tests/report_check.py); then the
# fuzz harnesses, on their regression inputs and briefly (tests/fuzz/fuzz.mk).

TEST_SUITES := frontend grad ops optim runtime score e2e

CKPT_SRC := runtime/genrt_ckpt.c runtime/genrt_file.c runtime/genrt_err.c
include tests/fuzz/fuzz.mk
TEST_HELPERS := tests/helpers.c
TEST_LIBS := -lcriterion -ldl $(RT_LIBS)
CRITERION_FLAGS ?= --jobs 2

$(B)/test_runtime: tests/test_runtime.c tests/fake_model.c $(B)/libgenrt.a
	$(CC) $(BASE) $(CFLAGS) $(BLAS_CFLAGS) tests/test_runtime.c tests/fake_model.c -o $@ $(TEST_LIBS)

$(B)/test_score: tests/test_score.c $(B)/libgenrt.a
	$(CC) $(BASE) $(CFLAGS) $(BLAS_CFLAGS) tests/test_score.c -o $@ -lcriterion $(RT_LIBS)

$(B)/test_%: tests/test_%.c $(TEST_HELPERS) tests/helpers.h $(B)/libgenc.a $(B)/libgenrt.a
	$(CC) $(BASE) $(CFLAGS) $(BLAS_CFLAGS) $< $(TEST_HELPERS) $(B)/libgenc.a -o $@ $(TEST_LIBS)

# The sanitized build compiles every source again, compiler and runtime,
# once, into build/san/libgenc.a and build/san/libgenrt.a, which every
# sanitized binary links (each compiled them itself before; make test's
# build took 620 s on 2 cores then, 400 s now).
SAN_CFLAGS := $(BASE) -O1 -g $(SAN) -Wno-sign-compare
SAN_GENC_OBJ := $(patsubst compiler/%.c,$(B)/san/c/%.o,$(COMPILER_SRC)) $(B)/san/c/lexer.o $(B)/san/c/parser.o
SAN_RT_OBJ := $(patsubst runtime/%.c,$(B)/san/rt/%.o,$(RUNTIME_SRC))
SAN_GENC := $(B)/san/libgenc.a
SAN_RT := $(B)/san/libgenrt.a
SAN_RT_LIBS := $(SAN_RT) -lstb $(BLAS_LIBS) -ldnnl -lz -lm

$(B)/san/c/%.o: compiler/%.c $(B)/parser.h $(B)/lexer.h $(COMPILER_HDR)
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) -c $< -o $@

$(B)/san/c/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) -c $< -o $@

$(B)/san/rt/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(SAN_GENC): $(SAN_GENC_OBJ)
	rm -f $@ && ar rcs $@ $^

$(SAN_RT): $(SAN_RT_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/san/genc: compiler/main.c $(SAN_GENC) $(SAN_RT) | $(B)/san
	$(CC) $(SAN_CFLAGS) compiler/main.c $(SAN_GENC) $(SAN_RT) -lz -lm -o $@

$(B)/san/test_runtime: tests/test_runtime.c tests/fake_model.c $(SAN_RT) | $(B)/san
	$(CC) $(SAN_CFLAGS) $(BLAS_CFLAGS) tests/test_runtime.c tests/fake_model.c -o $@ -lcriterion $(SAN_RT_LIBS)

$(B)/san/test_score: tests/test_score.c $(SAN_RT) | $(B)/san
	$(CC) $(SAN_CFLAGS) $(BLAS_CFLAGS) tests/test_score.c -o $@ -lcriterion $(SAN_RT_LIBS)

$(B)/san/test_%: tests/test_%.c $(TEST_HELPERS) tests/helpers.h $(SAN_GENC) | $(B)/san
	$(CC) $(SAN_CFLAGS) $(BLAS_CFLAGS) $< $(TEST_HELPERS) $(SAN_GENC) \
	    -o $@ -lcriterion -ldl $(filter-out $(B)/libgenrt.a,$(RT_LIBS))

$(B)/san:
	mkdir -p $@

TEST_BINS := $(addprefix $(B)/test_,$(TEST_SUITES))
SAN_BINS  := $(addprefix $(B)/san/test_,$(TEST_SUITES))

# Trainers the end-to-end suite drives, plain and sanitized (both with OpenMP,
# so the sanitizers see the loops split over threads).
E2E_MODELS := gan_ring gan_mlp dcgan wgan_gp_ring wgan_gp cgan vae cvae cyclegan fmnist_classifier
$(B)/san/%: %.c $(B)/%.f64.o $(SAN_RT) | $(B)/san
	$(CC) -std=c11 -O1 -g1 $(SAN) $(KERNELS) -D_GNU_SOURCE -Iruntime $(BLAS_CFLAGS) $< $(B)/$*.f64.o $(SAN_RT_LIBS) -o $@

# The trainers of tests/specs/ that tests/faults.sh kills, interrupts, fills
# the disk under and lets diverge, plain and sanitized.
FAULT_MODELS := fault_ring diverge_ring
FAULT_BINS := $(addprefix $(B)/fault/,$(FAULT_MODELS))
SAN_FAULT_BINS := $(addprefix $(B)/san/fault/,$(FAULT_MODELS))

$(B)/fault/%.c: tests/specs/%.gm $(B)/genc | $(B)/fault
	$(B)/genc $< -o $@

$(FAULT_BINS): $(B)/fault/%: $(B)/fault/%.c $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(RT_LIBS) -o $@

$(SAN_FAULT_BINS): $(B)/san/fault/%: $(B)/fault/%.c $(SAN_RT) | $(B)/san/fault
	$(CC) -std=c11 -O1 -g1 $(SAN) -D_GNU_SOURCE -Iruntime $(BLAS_CFLAGS) $< $(SAN_RT_LIBS) -o $@

$(B)/fault $(B)/san/fault:
	mkdir -p $@

# Data-parallel training (tests/mpi.sh): each model's C with the steps of 2
# ranks (genc --mpi-ranks 2: a third of what --mpi emits for dcgan, so it
# builds in a third of the time) as a trainer in float and one in double
# (-DGENC_DOUBLE_MAIN), on Open MPI.
MPI_MODELS := gan_mlp dcgan_sync wgan_gp_ring cyclegan
MPI_BINS := $(foreach m,$(MPI_MODELS),$(B)/mpi2/$(m).f32 $(B)/mpi2/$(m).f64)
# -O1: cyclegan's C of two ranks' steps compiles in 39 s, against 87 at -O2
# (the same float semantics; these trainers run their convolutions on
# im2col and OpenBLAS; tests/mpi.sh took 93 s with them, 96 at -O2)
MPI_TEST_CFLAGS := -O1 -march=native -g1

$(B)/mpi2/%.c: specs/%.gm $(B)/genc
	@mkdir -p $(@D)
	$(B)/genc $< --mpi-ranks 2 -o $@

$(B)/mpi2/%.c: tests/specs/%.gm $(B)/genc
	@mkdir -p $(@D)
	$(B)/genc $< --mpi-ranks 2 -o $@

$(B)/mpi2/%.f32: $(B)/mpi2/%.c $(B)/mpi/genrt_mpi.o $(B)/libgenrt.a
	$(CC) -std=c11 $(MPI_TEST_CFLAGS) -Iruntime $(BLAS_CFLAGS) $< $(MPI_RT_LIBS) -o $@

$(B)/mpi2/%.f64: $(B)/mpi2/%.c $(B)/mpi/genrt_mpi.o $(B)/libgenrt.a
	$(CC) -std=c11 $(MPI_TEST_CFLAGS) -Iruntime $(BLAS_CFLAGS) -DGENC_DOUBLE -DGENC_DOUBLE_MAIN $< $(MPI_RT_LIBS) -o $@

mpi-check: $(MPI_BINS)
	bash tests/mpi.sh $(B)/mpi2

# What make test runs, built in parallel even under a plain `make test`
# (the suites then run one after the other, each with its own --jobs).
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# make report-check's trainer and PNG reader (defined before test-build names them)
REPORT_BINS := $(B)/report/report_gan $(B)/report/png_to_ppm
test-build: all $(TEST_BINS) $(SAN_BINS) $(B)/san/genc $(E2E_MODELS) $(addprefix $(B)/san/,$(E2E_MODELS)) \
            examples-build $(FAULT_BINS) $(SAN_FAULT_BINS) $(FUZZ_BINS) $(REPORT_BINS) $(MPI_BINS)

# The suites run two tests at once (--jobs 2), each trainer on up to two
# OpenMP threads; passive waiting keeps libgomp's spinning threads of one
# from starving the other (a cyclegan test of 10 s alone timed out at 300 s
# so on a 2-core AMD EPYC).  Results do not depend on the wait policy.
test:
	@echo "== building the tests ($(TEST_JOBS) jobs)"
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) test-build
	@echo "== the compiler's layering"
	@$(MAKE) --no-print-directory check-layering
	@bash tests/check_tracked.sh --selftest
	@echo "== tests"
	@for t in $(TEST_BINS); do echo "-- $$t"; OMP_WAIT_POLICY=passive $$t $(CRITERION_FLAGS) || exit 1; done
	@echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@for t in $(SAN_BINS); do echo "-- $$t"; \
	    GENC_BIN=$(B)/san/genc GENC_TRAINER_DIR=$(B)/san GENC_QUICK=1 OMP_WAIT_POLICY=passive \
	    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    $$t $(CRITERION_FLAGS) || exit 1; done
	@echo "== fault injection: kill -9, signals, a full disk, divergence"
	@bash tests/faults.sh $(B)/fault
	@echo "== fault injection under AddressSanitizer + UndefinedBehaviorSanitizer"
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    bash tests/faults.sh $(B)/san/fault
	@echo "== data-parallel training: 2 ranks against 1 (Open MPI, loopback)"
	@bash tests/mpi.sh $(B)/mpi2
	@echo "== the run report in headless Chromium"
	@python3 tests/report_check.py $(REPORT_BINS)
	@echo "== the sampler in the browser: genc --target wasm, drawn by headless Chromium"
	@python3 tests/wasm_check.py
	@echo "== install, man pages, completion, make NAME, make demo THREADS=1"
	@bash tests/install_check.sh
	@echo "== fuzzing: regression inputs, then $(FUZZ_TEST_RUNS) inputs per harness from seed 1"
	@bash tests/fuzz/run.sh $(B)/fuzz runs=$(FUZZ_TEST_RUNS) $(FUZZ_HARNESSES)
	@echo "all test suites passed"

# tests/install_check.sh alone (make test runs it last).
install-check: all gan_ring vae cyclegan $(DEMO)
	bash tests/install_check.sh

# tests/wasm_check.py alone: wasm samplers of dcgan, gan_ring, cgan and
# cyclegan in headless Chromium against the native samplers.
wasm-check: all dcgan gan_ring cgan cyclegan
	python3 tests/wasm_check.py

.PHONY: test test-build install-check wasm-check mpi-check

# The slow quality bars (minutes, not part of make test): prints the numbers.
QUALITY_MODELS := gan_ring wgan_gp_ring wgan wgan_gp cgan lsgan hinge vae cvae conv_vae cyclegan \
    fmnist_classifier dcgan sngan
quality: all $(QUALITY_MODELS) $(DEMO)
	bash tests/quality.sh

# The variants of specs/dcgan.gm that tests/quality.sh writes to
# build/quality/ (with ema, with a limit on the data, with augment).
$(B)/quality/%.c: $(B)/quality/%.gm $(B)/genc
	$(B)/genc $< -o $@

$(B)/quality/%: $(B)/quality/%.c $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(RT_LIBS) -o $@

.PHONY: quality

# The run report in a browser (tests/report_check.py): a short real run of
# tests/specs/report_gan.gm, its report.html rendered by headless Chromium,
# the charts, grids and diagram checked in the DOM and in the screenshot.
$(B)/report/report_gan.c: tests/specs/report_gan.gm $(B)/genc | $(B)/report
	$(B)/genc $< -o $@

$(B)/report/report_gan: $(B)/report/report_gan.c $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(RT_LIBS) -o $@

$(B)/report/png_to_ppm: tests/png_to_ppm.c | $(B)/report
	$(CC) $(BASE) $(CFLAGS) $< -lstb -lm -o $@

$(B)/report:
	mkdir -p $@

report-check: $(REPORT_BINS)
	@python3 tests/report_check.py $(REPORT_BINS)

.PHONY: report-check
