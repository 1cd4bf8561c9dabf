# examples/: programs that use a sampler made by `genc --sampler` (included by
# the top-level Makefile, whose B, CC and `dcgan` target this uses).
#
#   make examples-build   build the three examples into $(B)/examples/, and the
#                         sampler for the browser into $(B)/examples/web/
#   make examples         build them and run each one
#
# The sampler's weights come from EXAMPLES_CKPT, which `make demo` writes.
# Without it (a fresh clone), dcgan trains for 50 steps to make one: enough
# to build and run the examples, not to give good samples.

EXAMPLES_CKPT ?= runs/demo/checkpoint.ckpt

EX        := $(B)/examples
EX_CFLAGS := -std=c99 -O2 -Wall -Wextra
EX_CKPT   := $(if $(wildcard $(EXAMPLES_CKPT)),$(EXAMPLES_CKPT),$(EX)/run/checkpoint.ckpt)

$(EX)/run/checkpoint.ckpt: specs/dcgan.gm | dcgan $(EX)
	@echo "examples: no $(EXAMPLES_CKPT) (make demo writes it); training dcgan for 50 steps instead"
	./dcgan train --steps 50 --out $(EX)/run --quiet --force

# genc leaves an unchanged file alone; touch both so make sees them as current.
$(EX)/dcgan_sampler.c $(EX)/dcgan_sampler.h &: specs/dcgan.gm $(EX_CKPT) $(B)/genc | $(EX)
	$(B)/genc specs/dcgan.gm --sampler --weights $(EX_CKPT) -o $(EX)/dcgan_sampler.c
	touch $(EX)/dcgan_sampler.c $(EX)/dcgan_sampler.h

$(EX)/dcgan_sampler.o: $(EX)/dcgan_sampler.c $(EX)/dcgan_sampler.h
	$(CC) $(EX_CFLAGS) -c $< -o $@

$(EX)/sampler_png: examples/sampler_png/main.c $(EX)/dcgan_sampler.o
	$(CC) $(EX_CFLAGS) -I$(EX) $^ -lstb -lm -o $@

$(EX)/terminal_art: examples/terminal_art/main.c $(EX)/dcgan_sampler.o
	$(CC) $(EX_CFLAGS) -I$(EX) $^ -lm -o $@

$(EX)/libdcgan_sampler.so: $(EX)/dcgan_sampler.c $(EX)/dcgan_sampler.h
	$(CC) $(EX_CFLAGS) -shared -fPIC $< -lm -o $@

# The same sampler for a web page: genc --target wasm writes the module, its
# loader and a page that draws samples; embed.html is the smallest page of your own.
WEB := $(EX)/web/dcgan_sampler.wasm $(EX)/web/dcgan_sampler.js $(EX)/web/dcgan_sampler.html
$(WEB) &: specs/dcgan.gm $(EX_CKPT) $(B)/genc | $(EX)/web
	$(B)/genc specs/dcgan.gm --sampler --weights $(EX_CKPT) --target wasm -o $(EX)/web/dcgan_sampler
	touch $(WEB)

$(EX)/web/embed.html: examples/web/embed.html | $(EX)/web
	cp $< $@

$(EX) $(EX)/web:
	mkdir -p $@

examples-build: $(EX)/sampler_png $(EX)/terminal_art $(EX)/libdcgan_sampler.so $(WEB) $(EX)/web/embed.html

examples: examples-build
	$(EX)/sampler_png 1 $(EX)/grid.png
	@echo "examples: an 8x8 grid of samples in $(EX)/grid.png"
	$(EX)/terminal_art 1
	/usr/bin/python3 examples/python_ctypes/sample.py --lib $(EX)/libdcgan_sampler.so --seed 1
	@echo "examples: the sampler in a page: python3 -m http.server -b 127.0.0.1 -d $(EX)/web 8000, then open"
	@echo "          http://127.0.0.1:8000/dcgan_sampler.html (or /embed.html, the smallest page of your own)"

.PHONY: examples examples-build
