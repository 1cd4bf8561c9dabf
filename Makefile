# genc: a compiler from generative-model specs to standalone C trainers.
#
#   make demo      build, compile the flagship spec, train briefly, write samples
#   make test      the whole test suite, also under ASan+UBSan
#   make NAME      compile specs/NAME.gm (or NAME.c, if you wrote it) into ./NAME
#   make install   genc, libgenrt, headers and genrt.pc under $(PREFIX)

CC      ?= cc
PREFIX  ?= /usr/local
B       := build
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
BASE    := -std=c11 -D_GNU_SOURCE $(WARN) -Icompiler -Iruntime -I$(B)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# Trainers: every shape is constant, so let the C compiler vectorize for this CPU.
TRAIN_CFLAGS ?= -O3 -march=native -fno-math-errno -g
RT_LIBS := $(B)/libgenrt.a -lstb $(BLAS_LIBS) -lz -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SPECS    := $(wildcard specs/*.gm)
MODELS   := $(basename $(notdir $(SPECS)))
DEMO     := dcgan

COMPILER_DIRS := passes emit objectives
COMPILER_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c $(addsuffix /*.c,$(addprefix compiler/,$(COMPILER_DIRS)))))
COMPILER_HDR := $(wildcard compiler/*.h compiler/*.def compiler/*/*.h compiler/*/*.def)
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
# NAME.c comes from specs/NAME.gm unless you wrote it yourself.  The trainer
# links the same C twice: in float to train, and in double for `gradcheck`.

%.c: specs/%.gm $(B)/genc
	$(B)/genc $< -o $@

$(B)/%.f64.o: %.c runtime/genrt_model.h runtime/genrt_kernels.h | $(B)
	$(CC) -std=c11 $(TRAIN_CFLAGS) -Iruntime $(BLAS_CFLAGS) -DGENC_DOUBLE -c $< -o $@

$(MODELS): %: %.c $(B)/%.f64.o $(B)/libgenrt.a
	$(CC) -std=c11 $(TRAIN_CFLAGS) -Iruntime $(BLAS_CFLAGS) $< $(B)/$*.f64.o $(RT_LIBS) -o $@

# ---- generated/: the committed C for every spec ----------------------------

generated: $(B)/genc
	@for s in $(SPECS); do $(B)/genc $$s -o generated/$$(basename $$s .gm).c || exit 1; done
	@echo "generated/ is current"

# ---- demo, tests, install --------------------------------------------------

deps:
	@bash .ci/deps.sh

# About two minutes on two cores: recognisable Fashion-MNIST items.
demo: deps all $(DEMO)
	./$(DEMO) train --steps 2000 --out runs/demo
	./$(DEMO) sample --checkpoint runs/demo/checkpoint.ckpt -n 64 -o demo.png
	@echo "demo: samples in demo.png, training samples in runs/demo/samples/, metrics in runs/demo/metrics.csv"

include tests/tests.mk
include bench/bench.mk
include examples/examples.mk

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/genrt \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(B)/genc $(DESTDIR)$(PREFIX)/bin/genc
	install -m 644 $(B)/libgenrt.a $(DESTDIR)$(PREFIX)/lib/libgenrt.a
	install -m 644 runtime/*.h $(DESTDIR)$(PREFIX)/include/genrt/
	sed -e 's|@PREFIX@|$(PREFIX)|' runtime/genrt.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/genrt.pc

clean:
	rm -rf $(B) $(MODELS) $(addsuffix .c,$(MODELS))

.PHONY: all generated deps demo install clean check-layering
.SECONDARY:
