/* dense_kernels.c: the GEMMs of gan_mlp's and vae's training steps (the
 * shapes generated/gan_mlp.c and generated/vae.c call), OpenBLAS's sgemm
 * against oneDNN's dnnl_sgemm on the same operands; best of three rounds of
 * REPS calls each, outputs compared.  Not part of make bench yet:
 *
 *   cc -O2 -fopenmp bench/dense_kernels.c -o build/dense_kernels \
 *      -L/usr/lib/x86_64-linux-gnu/openblas-openmp \
 *      -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -ldnnl
 *   OMP_NUM_THREADS=2 build/dense_kernels [REPS]
 */
#include <cblas.h>
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
struct sh { char ta, tb; int m, n, k; };
int main(int argc, char **argv) {
    /* gan_mlp (batch 64), then vae (batch 128) */
    struct sh s[] = {
        {'N','T',64,256,100},{'N','T',64,512,256},{'N','T',64,784,512},{'N','T',64,512,784},{'N','T',64,256,512},
        {'N','N',64,512,256},{'N','N',64,784,512},{'N','N',64,256,512},{'N','N',64,512,784},
        {'T','N',256,512,64},{'T','N',512,784,64},{'T','N',784,512,64},{'T','N',512,256,64},{'T','N',256,100,64},
        {'N','T',128,400,784},{'N','T',128,40,400},{'N','T',128,400,20},{'N','T',128,784,400},
        {'N','N',128,400,784},{'T','N',784,400,128},{'T','N',400,784,128},{'N','N',128,400,40},{'T','N',40,400,128},
    };
    int ns = sizeof s / sizeof *s, reps = argc > 1 ? atoi(argv[1]) : 2000;
    float *a = malloc(4 << 22), *b = malloc(4 << 22), *c = malloc(4 << 22), *c2 = malloc(4 << 22);
    for (int i = 0; i < 1 << 22; i++) a[i] = (float)(i % 7) - 3, b[i] = (float)(i % 5) - 2;
    double tb_all = 0, td_all = 0;
    for (int i = 0; i < ns; i++) {
        struct sh q = s[i];
        int lda = q.ta == 'N' ? q.k : q.m, ldb = q.tb == 'N' ? q.n : q.k;
        double t0, tb = 1e9, td = 1e9;
        for (int round = 0; round < 3; round++) {
            t0 = now();
            for (int r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, q.ta == 'N' ? CblasNoTrans : CblasTrans, q.tb == 'N' ? CblasNoTrans : CblasTrans, q.m, q.n, q.k, 1, a, lda, b, ldb, 0, c, q.n);
            double x = (now() - t0) / reps; if (x < tb) tb = x;
            t0 = now();
            for (int r = 0; r < reps; r++)
                dnnl_sgemm(q.ta, q.tb, q.m, q.n, q.k, 1, a, lda, b, ldb, 0, c2, q.n);
            x = (now() - t0) / reps; if (x < td) td = x;
        }
        double err = 0; for (long j = 0; j < (long)q.m * q.n; j++) { double d = c[j] - c2[j]; if (d < 0) d = -d; if (d > err) err = d; }
        double fl = 2.0 * q.m * q.n * q.k;
        printf("%c%c %4d %4d %4d  openblas %7.1f us %6.1f GF/s  dnnl %7.1f us %6.1f GF/s  ratio %.2f err %g\n", q.ta, q.tb, q.m, q.n, q.k, tb*1e6, fl/tb*1e-9, td*1e6, fl/td*1e-9, td/tb, err);
        tb_all += tb; td_all += td;
    }
    printf("total openblas %.1f us dnnl %.1f us ratio %.3f\n", tb_all*1e6, td_all*1e6, td_all/tb_all);
}
