# genc: a compiler from generative-model specs to standalone C trainers.
#
#   make demo      build, compile the flagship spec, train briefly, write samples
#                  (THREADS=N: the trainer's --threads; DEMO_STEPS=N: shorter or longer)
#   make test      the whole test suite, also under ASan+UBSan
#   make NAME      build the trainer ./NAME from specs/NAME.gm, ./NAME.gm or ./NAME.c
#   make NAME SPEC=path/to/NAME.gm   ... from a spec (or a NAME.c) anywhere
#   make NAME MPI=1 the trainer of data-parallel training: mpirun -np R ./NAME train
#   make install   genc, genc-build, libgenrt, headers, genrt.pc, man pages and
#                  bash completion under $(DESTDIR)$(PREFIX); make uninstall removes them

CC      ?= cc
PREFIX  ?= /usr/local
B       := build
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
BASE    := -std=c11 -D_GNU_SOURCE $(WARN) -Icompiler -Iruntime -I$(B)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# Trainers: every shape is constant, so let the C compiler vectorize for this CPU.
# -fno-trapping-math lets gcc turn `x > 0 ? x : 0.2 * x` (leaky ReLU and its
# gradient) into a select and vectorize it: with trapping math it may not
# multiply where the source does not, and leaves a scalar loop with an
# unpredictable branch.  Neither flag changes a result (the same bits).
TRAIN_CFLAGS ?= -O3 -march=native -fno-math-errno -fno-trapping-math -g1
# ... and split their long loops over the threads (genrt_kernels.h, PARALLEL_FOR),
# running OpenBLAS's OpenMP build (libopenblas0-openmp) so that the BLAS and the
# loops share libgomp's one pool of threads: beside the default pthread build's
# own spinning threads the loops would fight them for the cores, and the trainer
# then keeps its loops on one thread (genrt_run_set_threads).
# Their convolutions run on oneDNN (libdnnl-dev, also on libgomp; GENC_DNNL,
# runtime/genrt_dnnl.h), which picks its kernels for the CPU it runs on.
OMP_BLAS_DIR := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/openblas-openmp
KERNELS := -fopenmp -Wl,-rpath,$(OMP_BLAS_DIR) -DGENC_DNNL=1
RT_LIBS := $(B)/libgenrt.a -lstb $(BLAS_LIBS) -ldnnl -lz -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SPECS    := $(wildcard specs/*.gm)
MODELS   := $(basename $(notdir $(SPECS)))
DEMO     := dcgan

COMPILER_DIRS := passes emit objectives
COMPILER_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c $(addsuffix /*.c,$(addprefix compiler/,$(COMPILER_DIRS)))))
COMPILER_HDR := $(wildcard compiler/*.h compiler/*.def compiler/*/*.h compiler/*/*.def) runtime/genrt_hash.h runtime/genrt_model.h
RUNTIME_SRC  := $(wildcard runtime/*.c)
GEN_SRC      := $(B)/lexer.c $(B)/parser.c

all: $(B)/genc $(B)/libgenrt.a

# ---- the compiler ----------------------------------------------------------

$(B)/parser.c $(B)/parser.h &: compiler/parser.y | $(B)
	bison -Wall -Werror -d -o $(B)/parser.c $<

$(B)/lexer.c $(B)/lexer.h &: compiler/lexer.l | $(B)
	flex --header-file=$(B)/lexer.h -o $(B)/lexer.c $<

$(B)/%.o: compiler/%.c $(B)/parser.h $(B)/lexer.h $(COMPILER_HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

# compiler/DIR/X.c -> build/DIR_X.o
define compiler_subdir
$(B)/$(1)_%.o: compiler/$(1)/%.c $(COMPILER_HDR) | $(B)
	$$(CC) $$(BASE) $$(CFLAGS) -c $$< -o $$@
endef
$(foreach d,$(COMPILER_DIRS),$(eval $(call compiler_subdir,$(d))))

$(B)/lexer.o: $(B)/lexer.c $(B)/parser.h
	$(CC) $(BASE) $(CFLAGS) -Wno-sign-compare -c $< -o $@

$(B)/parser.o: $(B)/parser.c $(B)/lexer.h
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

COMPILER_OBJ := $(foreach f,$(patsubst compiler/%.c,%,$(COMPILER_SRC)),$(B)/$(subst /,_,$(f)).o) \
                $(B)/lexer.o $(B)/parser.o

$(B)/libgenc.a: $(COMPILER_OBJ)
	rm -f $@ && ar rcs $@ $^

# genc reads checkpoints (for --sampler) with the runtime's own reader.
CKPT_OBJ := $(B)/rt_genrt_ckpt.o $(B)/rt_genrt_file.o $(B)/rt_genrt_err.o

$(B)/genc: compiler/main.c $(B)/libgenc.a $(CKPT_OBJ)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgenc.a $(CKPT_OBJ) -lz -lm -o $@

# The compiler's layering: only compiler/emit/ knows C, and no include or
# call cycle among compiler/ files (tests/check_layering.py, which also
# plants each kind of violation in a copy to show it is caught).
check-layering: $(COMPILER_OBJ) $(B)/main.o
	@python3 tests/check_layering.py
	@python3 tests/check_layering.py --selftest

# ---- the runtime -----------------------------------------------------------

$(B)/rt_%.o: runtime/%.c $(wildcard runtime/*.h) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(B)/libgenrt.a: $(patsubst runtime/%.c,$(B)/rt_%.o,$(RUNTIME_SRC))
	ar rcs $@ $^

$(B):
	mkdir -p $(B)

# ---- trainers: make NAME ---------------------------------------------------
# ./NAME is built from SPEC=path/to/NAME.gm (or a NAME.c there) when given,
# else from specs/NAME.gm, ./NAME.gm or your own ./NAME.c, in that order; a
# spec's C goes to ./NAME.c.  The trainer links the same C twice: in float to
# train, and in double for `gradcheck`.

# SPEC and THREADS count only on the command line: a variable of the same
# name in the environment must not change what make builds.
ifneq ($(filter environment%,$(origin SPEC)),)
SPEC :=
endif
ifneq ($(filter environment%,$(origin THREADS)),)
THREADS :=
endif

ifneq ($(SPEC),)
SPEC_NAME := $(basename $(notdir $(SPEC)))
ifeq ($(wildcard $(SPEC)),)
$(error SPEC=$(SPEC): no such file)
endif
ifeq ($(filter %.gm %.c,$(SPEC)),)
$(error SPEC=$(SPEC): expected a spec NAME.gm or the C genc made of one, NAME.c)
endif
ifneq ($(filter $(SPEC_NAME),all generated deps demo test quality bench examples examples-build \
                install uninstall install-check wasm-check clean),)
$(error SPEC=$(SPEC): '$(SPEC_NAME)' is one of this Makefile's targets; rename the file)
endif
.DEFAULT_GOAL := $(SPEC_NAME)
endif
# goals naming a ./NAME.gm or ./NAME.c of yours (not a path: build/quality/X has rules of its own)
USER_MODELS := $(foreach g,$(filter-out $(MODELS) $(SPEC_NAME),$(MAKECMDGOALS)),$(if $(findstring /,$(g)),,$(if $(wildcard $(g).gm $(g).c),$(g))))
TRAINERS := $(sort $(MODELS) $(USER_MODELS) $(SPEC_NAME))
# the C of trainer $(1): SPEC itself when that is NAME.c, else ./NAME.c
trainer_c = $(if $(and $(filter $(1),$(SPEC_NAME)),$(filter %.c,$(SPEC))),$(SPEC),$(1).c)

%.c: specs/%.gm $(B)/genc
	$(B)/genc $< -o $@

%.c: %.gm $(B)/genc
	$(B)/genc $< -o $@

ifneq ($(filter %.gm,$(SPEC)),)
$(SPEC_NAME).c: $(SPEC) $(B)/genc
	$(B)/genc $< -o $@
endif

.SECONDEXPANSION:
$(B)/%.f64.o: $$(call trainer_c,$$*) runtime/genrt_model.h runtime/genrt_kernels.h runtime/genrt_hash.h | $(B)
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) -DGENC_DOUBLE -c $< -o $@

# A trainer is rebuilt when MPI= changes (build/trainer-mode holds the last).
TRAINER_MODE := $(if $(filter 1,$(MPI)),mpi,plain)
$(shell mkdir -p $(B) && { [ "$$(cat $(B)/trainer-mode 2>/dev/null)" = $(TRAINER_MODE) ] || echo $(TRAINER_MODE) > $(B)/trainer-mode; })

ifeq ($(MPI),1)
# MPI=1: the spec's C with the data-parallel steps (genc --mpi) in build/mpi/,
# and genrt_mpi.c built on Open MPI in place of libgenrt's one-rank stand-in.
$(TRAINERS): %: $(B)/mpi/%.c $(B)/mpi/%.f64.o $(B)/mpi/genrt_mpi.o $(B)/libgenrt.a $(B)/trainer-mode
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(B)/mpi/$*.f64.o $(MPI_RT_LIBS) -o $@
else
$(TRAINERS): %: $$(call trainer_c,$$*) $(B)/%.f64.o $(B)/libgenrt.a $(B)/trainer-mode
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(B)/$*.f64.o $(RT_LIBS) -o $@
endif

# ---- data-parallel trainers (MPI=1, and the MPI tests) ----------------------

MPI_CFLAGS = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS = $(shell mpicc --showme:link 2>/dev/null || echo -lmpi)
MPI_RT_LIBS = $(B)/mpi/genrt_mpi.o $(RT_LIBS) $(MPI_LIBS)

$(B)/mpi/genrt_mpi.o: runtime/genrt_mpi.c runtime/genrt_mpi.h runtime/genrt_model.h | $(B)/mpi
	$(CC) $(BASE) $(CFLAGS) $(MPI_CFLAGS) -DGENC_MPI -c $< -o $@

$(B)/mpi/%.c: specs/%.gm $(B)/genc | $(B)/mpi
	$(B)/genc $< --mpi -o $@

$(B)/mpi/%.c: %.gm $(B)/genc | $(B)/mpi
	$(B)/genc $< --mpi -o $@

ifneq ($(filter %.gm,$(SPEC)),)
$(B)/mpi/$(SPEC_NAME).c: $(SPEC) $(B)/genc | $(B)/mpi
	$(B)/genc $< --mpi -o $@
endif

# make bench-mpi's trainers: MPI=1's, without the double build
$(B)/mpi/%.f32: $(B)/mpi/%.c $(B)/mpi/genrt_mpi.o $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) $< $(MPI_RT_LIBS) -o $@

$(B)/mpi/%.f64.o: $(B)/mpi/%.c runtime/genrt_model.h runtime/genrt_kernels.h runtime/genrt_hash.h
	$(CC) -std=c11 $(TRAIN_CFLAGS) $(KERNELS) -Iruntime $(BLAS_CFLAGS) -DGENC_DOUBLE -c $< -o $@

$(B)/mpi:
	mkdir -p $@

# ---- generated/: the committed C for every spec ----------------------------

generated: $(B)/genc
	@for s in $(SPECS); do $(B)/genc $$s -o generated/$$(basename $$s .gm).c || exit 1; done
	@echo "generated/ is current"

# ---- demo, tests, install --------------------------------------------------

deps:
	@bash .ci/deps.sh

# About two minutes on two cores: recognisable Fashion-MNIST items.  THREADS=N
# passes --threads N to the trainer (default: the trainer's own, 2).
DEMO_STEPS ?= 2000
DEMO_THREADS = $(if $(THREADS),--threads $(THREADS))
demo: deps all $(DEMO)
	./$(DEMO) train --steps $(DEMO_STEPS) --out runs/demo --force $(DEMO_THREADS)
	./$(DEMO) sample --checkpoint runs/demo/checkpoint.ckpt -n 64 -o demo.png $(DEMO_THREADS)
	@echo "demo: samples in demo.png, training samples in runs/demo/samples/, metrics in runs/demo/metrics.csv"

include tests/tests.mk
include bench/bench.mk
include examples/examples.mk

# ---- install ---------------------------------------------------------------
# DESTDIR stages the tree for packaging; PREFIX is where it will live.

VERSION  := $(shell sed -n 's/.*define GENC_VERSION "\(.*\)"/\1/p' compiler/genc.h)
HEADERS  := $(notdir $(wildcard runtime/*.h))
MANPAGES := $(notdir $(wildcard man/*.1))
# every file install writes, relative to PREFIX: uninstall removes exactly these
INSTALLED := bin/genc bin/genc-build lib/libgenrt.a lib/pkgconfig/genrt.pc \
    $(addprefix include/genrt/,$(HEADERS)) $(addprefix share/man/man1/,$(MANPAGES)) \
    share/bash-completion/completions/genc share/doc/genc/dsl.md
INST := $(DESTDIR)$(PREFIX)

# genrt.pc names no other .pc file, so pkg-config --define-prefix (and
# genc-build) can relocate a staged tree without touching the system's.
install: all
	install -d $(INST)/bin $(INST)/lib/pkgconfig $(INST)/include/genrt $(INST)/share/man/man1 \
	    $(INST)/share/bash-completion/completions $(INST)/share/doc/genc
	install -m 755 $(B)/genc $(INST)/bin/genc
	install -m 755 tools/genc-build $(INST)/bin/genc-build
	install -m 644 $(B)/libgenrt.a $(INST)/lib/libgenrt.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@BLAS_CFLAGS@|$(strip $(BLAS_CFLAGS))|' -e 's|@BLAS_LIBS@|$(strip $(BLAS_LIBS))|' \
	    runtime/genrt.pc.in > $(B)/genrt.pc
	install -m 644 $(B)/genrt.pc $(INST)/lib/pkgconfig/genrt.pc
	install -m 644 $(addprefix runtime/,$(HEADERS)) $(INST)/include/genrt/
	install -m 644 $(addprefix man/,$(MANPAGES)) $(INST)/share/man/man1/
	install -m 644 completion/genc.bash $(INST)/share/bash-completion/completions/genc
	install -m 644 docs/dsl.md $(INST)/share/doc/genc/dsl.md

# Directories are shared with other software and stay; genc's own two go
# when empty.
uninstall:
	rm -f $(addprefix $(INST)/,$(INSTALLED))
	for d in $(INST)/include/genrt $(INST)/share/doc/genc; do \
	    if [ -d $$d ]; then rmdir --ignore-fail-on-non-empty $$d; fi; done

clean:
	rm -rf $(B) $(MODELS) $(addsuffix .c,$(MODELS))

.PHONY: all generated deps demo install uninstall clean check-layering
.SECONDARY:
