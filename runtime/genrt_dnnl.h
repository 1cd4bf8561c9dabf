/* genrt_dnnl.h: convolutions and dense GEMMs through oneDNN, for trainers built with
 * GENC_DNNL=1 (make NAME does; genrt_kernels.h includes this then).
 *
 * The emitter finds each convolution pass in the IR (compiler/passes/conv.c:
 * im2col and a GEMM, or a GEMM and col2im) and emits both ways of running
 * it: a call of genrt_conv_run when genrt_dnnl() is on, its own im2col and
 * sgemm otherwise.  Activations stay genc's NHWC and weights genc's
 * (Co, kh, kw, Ci), oneDNN's ohwi; oneDNN picks its kernels for the CPU it
 * runs on (ONEDNN_MAX_CPU_ISA caps them) and its weight layout, and the
 * weights are reordered into that layout at each call. */
#ifndef GENRT_DNNL_H
#define GENRT_DNNL_H

enum genrt_conv_pass {
    GENRT_CONV_FWD,      /* y = conv(x, w):      a = x,  b = w,  out = y  */
    GENRT_CONV_BWD_DATA, /* dx = conv^T(dy, w):  a = dy, b = w,  out = dx (a deconv's forward) */
    GENRT_CONV_BWD_W,    /* dw = conv_w(x, dy):  a = x,  b = dy, out = dw */
};

/* One pass of one convolution: x[n, h, w, ci] -> y[n, ho, wo, co] with a
 * k x k window, stride and top/left padding pad (the bottom/right padding
 * is what makes the output ho x wo).  Emitted code keeps one per call site,
 * zero past the geometry; the primitive is made at its first call and
 * shared by every call site of the same pass and geometry. */
struct genrt_conv {
    int pass; /* enum genrt_conv_pass */
    int n, h, w, ci, co, k, stride, pad, ho, wo;
    struct genrt_conv_prim *prim;
};

/* 1 when oneDNN runs the convolutions: the environment has no GENC_DNNL=0
 * and oneDNN's CPU engine was made (at the first call). */
int genrt_dnnl(void);
/* Runs pass c->pass on float tensors; exits with a message if oneDNN
 * cannot make or run it. */
void genrt_conv_run(struct genrt_conv *c, const float *a, const float *b, float *out);
/* C = op(A) op(B), row-major floats, on oneDNN's dnnl_sgemm: the dense
 * layers' GEMMs when genrt_dnnl() is on (genrt_kernels.h, gemm).  Measured
 * against OpenBLAS's sgemm on gan_mlp's and vae's shapes in
 * bench/dense_kernels.c.  Exits with a message if oneDNN fails. */
void genrt_sgemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc);

#endif
