/* fuzz_compiler.c: libFuzzer harness for the whole compiler.
 *
 * Spec bytes -> parse -> genc_build (sema, lowering, passes, bounds) ->
 * the trainer's C, --summary, --dump-ast and --dump-ir, and the sampler
 * (emit_sampler) with the state a fresh trainer starts from, as genc's
 * main.c runs them.  Diagnostics and dumps go to a stream that discards
 * them, so they are formatted (and checked by the sanitizers) but do not
 * slow the fuzzer down.  An internal error (unreachable(), which exits)
 * counts as a crash, as it should: no input may reach one.  Writes no
 * files. */
#include "genc.h"
#include "emit/emit.h"
#include "genrt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The sampler bakes every weight into C text: past this many state values
 * an input only slows the fuzzer down, without new paths. */
#define SAMPLER_MAX_STATE (1L << 18)

static FILE *sink;
static unsigned long n_inputs, n_trainers, n_samplers;

static ssize_t discard(void *cookie, const char *buf, size_t n) {
    (void)cookie, (void)buf;
    return (ssize_t)n;
}

static void report(void) {
    fprintf(stderr, "fuzz_compiler: %lu inputs, %lu compiled to a trainer, %lu to a sampler\n", n_inputs,
            n_trainers, n_samplers);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sink = fopencookie(NULL, "w", (cookie_io_functions_t){.write = discard});
    if (!sink)
        abort();
    diag_set_stream(sink);
    atexit(report);
    return 0;
}

/* What a trainer's init gives (genrt_main.c): zeros, ones, and U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) from a fixed hash instead of the RNG. */
static float *fresh_state(const struct lowered *lo) {
    float *s = xalloc(sizeof(float) * (size_t)(lo->n_state + 1));
    for (int t = 0; t < lo->tensors.len; t++) {
        const struct ptensor *pt = &lo->tensors.data[t];
        long n = shape_size(pt->shape);
        float bound = pt->fan_in > 0 ? 1.0f / sqrtf((float)pt->fan_in) : 1.0f;
        for (long i = 0; i < n; i++) {
            uint32_t h = (uint32_t)(pt->offset + i) * 2654435761u;
            float u = (float)(h >> 8) / 16777216.0f * 2 - 1;
            s[pt->offset + i] = pt->init == GENRT_INIT_ONE ? 1 : pt->init == GENRT_INIT_ZERO ? 0 : bound * u;
        }
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    n_inputs++;
    /* The lexer scans a copy (yy_scan_bytes); main.c's buffer is NUL-terminated. */
    char *text = xalloc(size + 1);
    memcpy(text, data, size);
    struct source src = {.path = "fuzz.gm", .text = text, .len = size};
    diag_init(&src);
    struct ast ast;
    struct model m;
    struct lowered lo;
    if (parse_source(&src, &ast)) {
        ast_dump(sink, &ast);
        /* one input in four also gets genc --mpi-ranks 2's steps (an odd
         * batch: its error) */
        if (genc_build(&ast, &src, &m, &lo, size % 4 == 3 ? 3 : 0)) {
            size_t len;
            emit_c(&m, &lo, &src, &len);
            print_summary(sink, &m, &lo);
            for (int i = 0; i < lo.progs.len; i++)
                ir_dump(sink, &lo.progs.data[i], lo.tensors.data);
            n_trainers++;
            if (lo.n_state <= SAMPLER_MAX_STATE) {
                struct sampler_out so;
                /* both ways of shipping the weights (in the C, or in a blob),
                 * as floats or int8 */
                if (emit_sampler(&m, &lo, fresh_state(&lo), 1, "fuzz.ckpt", "fuzz_s", size % 2,
                                 size / 2 % 2 ? QUANT_INT8 : QUANT_NONE, &so))
                    n_samplers++;
                else if (diag_error_count() == 0)
                    abort(); /* a refusal must say why */
            }
        }
    }
    fflush(sink);
    genc_free_all();
    return 0;
}
