/* genrt_npy.c: see genrt_npy.h. */
#include "genrt_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "genrt_file.h"

#define NPY_ALIGN 64

int genrt_npy_write(const char *path, const float *x, int n_dims, const long *dims,
                    struct genrt_err *err)
{
    if (n_dims < 1 || n_dims > GENRT_NPY_MAX_DIMS)
        return genrt_err_set(err, "%s: cannot write a %d-dimensional array", path, n_dims);
    char shape[GENRT_NPY_MAX_DIMS * 24 + 8];
    int k = 0;
    long n = 1;
    k += snprintf(shape + k, sizeof shape - k, "(");
    for (int i = 0; i < n_dims; i++) {
        if (dims[i] < 0)
            return genrt_err_set(err, "%s: negative dimension %ld", path, dims[i]);
        n *= dims[i];
        k += snprintf(shape + k, sizeof shape - k, i ? ", %ld" : "%ld", dims[i]);
    }
    /* A 1-tuple needs its trailing comma in Python syntax. */
    snprintf(shape + k, sizeof shape - k, n_dims == 1 ? ",)" : ")");

    char hdr[sizeof shape + 128];
    int len = snprintf(hdr + 10, sizeof hdr - 10,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    /* Pad with spaces and a final newline so that magic (6) + version (2) +
     * header length (2) + header is a multiple of NPY_ALIGN. */
    int total = (10 + len + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memset(hdr + 10 + len, ' ', (size_t)(total - 10 - len));
    hdr[total - 1] = '\n';
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((total - 10) & 0xff);
    hdr[9] = (char)((total - 10) >> 8);

    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    fwrite(hdr, 1, (size_t)total, af.f);
    /* Explicit little-endian bytes, whatever the host order. */
    unsigned char buf[4096];
    size_t used = 0;
    for (long i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int b = 0; b < 4; b++)
            buf[used++] = (unsigned char)(u >> (8 * b));
        if (used == sizeof buf) {
            fwrite(buf, 1, used, af.f);
            used = 0;
        }
    }
    fwrite(buf, 1, used, af.f);
    return genrt_file_commit(&af, err); /* checks for write errors */
}

int genrt_npy_write_csv(const char *path, const float *x, long n, long d, struct genrt_err *err)
{
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < d; j++)
            fprintf(af.f, "%.9g%c", (double)x[i * d + j], j + 1 < d ? ',' : '\n');
    return genrt_file_commit(&af, err);
}

void genrt_npy_hwc_to_chw(float *dst, const float *src, long n, int c, int h, int w)
{
    size_t hw = (size_t)h * w, px = hw * c;
    for (long k = 0; k < n; k++) {
        const float *s = src + (size_t)k * px;
        float *d = dst + (size_t)k * px;
        for (size_t p = 0; p < hw; p++)
            for (int ch = 0; ch < c; ch++)
                d[(size_t)ch * hw + p] = s[p * c + ch];
    }
}
