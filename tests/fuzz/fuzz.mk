# fuzz.mk: the libFuzzer harnesses of tests/fuzz/, built with clang, ASan
# and UBSan (any sanitizer report, leak or exit is a crash).
#
#   make fuzz FUZZ_SECONDS=N   each harness for N seconds (default 60), one
#                              after the other, each in a temp directory
#   make fuzz-check            the regression inputs, then each harness on
#                              FUZZ_TEST_RUNS inputs from seed 1 (the same
#                              inputs every run): part of make test

FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -Wno-sign-compare -Wno-unused-function -Wno-unneeded-internal-declaration
FUZZ_HARNESSES := compiler ckpt idx image
FUZZ_SECONDS ?= 60
FUZZ_TEST_RUNS ?= 20000
FUZZ_BINS    := $(addprefix $(B)/fuzz/fuzz_,$(FUZZ_HARNESSES))
FUZZ_RT_SRC  := runtime/genrt_data.c runtime/genrt_file.c runtime/genrt_err.c runtime/genrt_rng.c

$(B)/fuzz:
	mkdir -p $@

# The whole compiler, as genc runs it (compiler/driver.c).  Comparison
# tracing in the generated lexer's and parser's tables, the caret printer
# and the did-you-mean edit distance took half the run time for nothing the
# fuzzer can use: those are built without it.
# So are the passes and the emitter: their comparisons are of node indices
# and offsets, not of anything in the input, and tracing them took 40% of a
# run (perf); their edges are still covered.
FUZZ_NOCMP_SRC := compiler/diag.c compiler/util.c $(wildcard compiler/passes/*.c compiler/emit/*.c)
FUZZ_PLAIN := $(B)/fuzz/lexer.o $(B)/fuzz/parser.o $(patsubst compiler/%.c,$(B)/fuzz/%.o,$(FUZZ_NOCMP_SRC))
FUZZ_NOCMP := $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS)) -fno-sanitize-coverage=trace-cmp

$(B)/fuzz/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h $(COMPILER_HDR) | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(FUZZ_NOCMP) -c $< -o $@

$(B)/fuzz/%.o: compiler/%.c $(B)/parser.h $(B)/lexer.h $(COMPILER_HDR) | $(B)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(FUZZ_NOCMP) -c $< -o $@

$(B)/fuzz/fuzz_compiler: tests/fuzz/fuzz_compiler.c $(COMPILER_SRC) $(FUZZ_PLAIN) $(COMPILER_HDR) \
                         | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) $< $(filter-out $(FUZZ_NOCMP_SRC),$(COMPILER_SRC)) \
	    $(FUZZ_PLAIN) -lm -o $@

$(B)/fuzz/fuzz_ckpt: tests/fuzz/fuzz_ckpt.c tests/fuzz/memfd.h $(CKPT_SRC) $(wildcard runtime/*.h) | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) $< $(CKPT_SRC) -lz -o $@

# These include genrt_data.c for its static loaders.
$(B)/fuzz/fuzz_idx: tests/fuzz/fuzz_idx.c tests/fuzz/memfd.h $(FUZZ_RT_SRC) $(wildcard runtime/*.h) | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) $< $(filter-out runtime/genrt_data.c,$(FUZZ_RT_SRC)) -lstb -lz -lm -o $@

# stb_image and stb_image_resize are compiled in, instrumented (stb_impl.c).
$(B)/fuzz/stb_impl.o: tests/fuzz/stb_impl.c | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS)) -fno-sanitize=pointer-overflow,nonnull-attribute -w -c $< -o $@

$(B)/fuzz/fuzz_image: tests/fuzz/fuzz_image.c $(B)/fuzz/stb_impl.o $(FUZZ_RT_SRC) $(wildcard runtime/*.h) | $(B)/fuzz
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) $< $(B)/fuzz/stb_impl.o $(filter-out runtime/genrt_data.c,$(FUZZ_RT_SRC)) \
	    -lz -lm -o $@

fuzz: $(FUZZ_BINS)
	bash tests/fuzz/run.sh $(B)/fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-check: $(FUZZ_BINS)
	bash tests/fuzz/run.sh $(B)/fuzz runs=$(FUZZ_TEST_RUNS) $(FUZZ_HARNESSES)

.PHONY: fuzz fuzz-check
