/* emit.h: the C emitter's header, for the driver (main.c), the tests and
 * the emitter's own files.  Only the emitter knows C: nothing in the IR,
 * autodiff, the passes, lowering or the objectives includes this. */
#ifndef GENC_EMIT_H
#define GENC_EMIT_H

#include "../genc.h"

/* ---- writer.c: lines, blocks and literals -------------------------------- */

struct emit {
    char *buf;
    size_t len, cap;
    int indent;
    const char *path;               /* the spec, for comments */
    const struct lowered *lo;
    const char *const *const_names; /* samplers: a PARAM's tensor names a constant array */
    const int *const_int8;          /* samplers: per constant, the output channels of its
                                     * int8 scales (NAME_scale[]), or 0 for floats */
    const int *ar_slot;             /* emit_body: per allreduce node, the slot of its
                                     * all-reduce started early, or -1 */
    bool parallel;                  /* trainers: split long loops over the threads
                                     * (PARALLEL_FOR, genrt_kernels.h) */
};

/* Scalars an emitted function may keep on its stack; larger buffers are
 * static (a dense layer may have millions of units). */
enum { EMIT_STACK_MAX = 1024 };

/* Loops of at least this many elements are split over a trainer's threads;
 * shorter ones cost more to start on two cores than they save (the
 * runtime's kernels use the same bound: PARALLEL_FOR_N, genrt_kernels.h). */
enum { EMIT_PAR_MIN = 16384 };

/* A writer; samplers pass constant arrays standing for the parameters. */
struct emit *emit_new(const char *path, const struct lowered *lo, const char *const *const_names);
char *emit_text(struct emit *e, size_t *len);
void emit_line(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_open(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_close(struct emit *e, const char *tail);
/* A real constant, exact in double: "(real)0.20000000000000001". */
const char *emit_real(double v);
/* Any string genc did not make, for the inside of a C string literal or of
 * a comment: every path, name and label goes through one of these. */
const char *c_str(const char *s);
const char *c_comment(const char *s);

/* ---- ops_c.c: each op's C, and a program's body ------------------------- */

/* The input buffers' names, per enum genrt_slot: in_x, gc_x, ... */
extern const char *const slot_names[];
/* C expression for the first element of node id's storage: "arena + 64". */
const char *emit_ref(struct emit *e, const struct program *p, int id);
/* A comment-safe shape: "(64, 7, 7, 128)". */
const char *shape_comment(struct shape s);
/* Every live node's code, in order: a loop per fused group, a statement
 * per kernel or effect, each after a comment naming its spec line. */
void emit_body(struct emit *e, const struct program *p);

/* ---- trainer.c ----------------------------------------------------------- */

/* The trainer's C; src (or NULL) is the spec's text, which the trainer
 * keeps for its run report beside the spec's --summary and --dot. */
char *emit_c(const struct model *m, const struct lowered *lo, const struct source *src, size_t *len);
/* Only the programs, with state and arena: for tests that build IR by hand. */
char *emit_c_programs(const struct lowered *lo, const char *path, size_t *len);

/* ---- sampler.c ----------------------------------------------------------- */

struct sampler_out {
    char *c, *h, *blob; /* blob: the weights, with --weights-file */
    size_t c_len, h_len, blob_len;
};

/* How a sampler stores the weights its GEMMs read: floats, or per output
 * channel symmetric int8 (genc --quantize int8). */
enum sampler_quant { QUANT_NONE, QUANT_INT8 };

/* NAME.c and NAME.h: the generator in eval mode with the weights of state
 * (the checkpoint's, as floats) baked in, or, with weights_file, in a blob
 * the caller hands to NAME_init; quantized as quant says. */
bool emit_sampler(const struct model *m, struct lowered *lo, const float *state, long step, const char *ckpt,
                  const char *name, bool weights_file, enum sampler_quant quant, struct sampler_out *out);

/* Per-output-channel symmetric int8 of a GEMM's weights w[rows][cols]
 * (row-major, as the sampler stores them: rows meet the input, columns
 * make the output), column j feeding output channel j % n_ch (a deconv's
 * columns are (kh, kw, c), c fastest; dense and conv have n_ch = cols):
 * scale[c] = max |w| over channel c / 127, q = round(w / scale[c]) within
 * [-127, 127] (all zero, scale 0, for a channel of zeros). */
void quantize_int8(const double *w, long rows, long cols, int n_ch, signed char *q, float *scale);

/* ---- wasm.c: --target wasm ------------------------------------------------- */

struct wasm_out {
    char *wasm, *js, *html;
    size_t wasm_len, js_len, html_len;
};

/* NAME.wasm (the sampler so, weights baked in, and its exports, compiled
 * by clang for wasm32), its loader NAME.js and the page NAME.html. */
bool emit_wasm(const struct model *m, const char *name, const struct sampler_out *so, struct wasm_out *out);

#endif
