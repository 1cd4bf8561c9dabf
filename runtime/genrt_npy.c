/* genrt_npy.c: see genrt_npy.h. */
#include "genrt_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genrt_file.h"

#define NPY_ALIGN 64

/* The header of an array of n_dims dims with numpy type descr, padded;
 * its length, or -1. */
static int npy_header(char *hdr, size_t cap, const char *descr, int n_dims, const long *dims,
                      long *n, const char *path, struct genrt_err *err)
{
    if (n_dims < 1 || n_dims > GENRT_NPY_MAX_DIMS)
        return genrt_err_set(err, "%s: cannot write a %d-dimensional array", path, n_dims);
    char shape[GENRT_NPY_MAX_DIMS * 24 + 8];
    int k = 0;
    *n = 1;
    k += snprintf(shape + k, sizeof shape - k, "(");
    for (int i = 0; i < n_dims; i++) {
        if (dims[i] < 0)
            return genrt_err_set(err, "%s: negative dimension %ld", path, dims[i]);
        *n *= dims[i];
        k += snprintf(shape + k, sizeof shape - k, i ? ", %ld" : "%ld", dims[i]);
    }
    /* A 1-tuple needs its trailing comma in Python syntax. */
    snprintf(shape + k, sizeof shape - k, n_dims == 1 ? ",)" : ")");

    int len = snprintf(hdr + 10, cap - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       descr, shape);
    /* Pad with spaces and a final newline so that magic (6) + version (2) +
     * header length (2) + header is a multiple of NPY_ALIGN. */
    int total = (10 + len + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memset(hdr + 10 + len, ' ', (size_t)(total - 10 - len));
    hdr[total - 1] = '\n';
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((total - 10) & 0xff);
    hdr[9] = (char)((total - 10) >> 8);
    return total;
}

enum { HDR_CAP = GENRT_NPY_MAX_DIMS * 24 + 8 + 128 };

int genrt_npy_write(const char *path, const float *x, int n_dims, const long *dims,
                    struct genrt_err *err)
{
    char hdr[HDR_CAP];
    long n;
    int total = npy_header(hdr, sizeof hdr, "<f4", n_dims, dims, &n, path, err);
    if (total < 0)
        return -1;
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

int genrt_npy_write_u8(const char *path, const uint8_t *x, int n_dims, const long *dims,
                       struct genrt_err *err)
{
    char hdr[HDR_CAP];
    long n;
    int total = npy_header(hdr, sizeof hdr, "|u1", n_dims, dims, &n, path, err);
    if (total < 0)
        return -1;
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    fwrite(hdr, 1, (size_t)total, af.f);
    fwrite(x, 1, (size_t)n, af.f);
    return genrt_file_commit(&af, err);
}

/* The value of key in a header dict: the text after "'key':", or NULL. */
static const char *npy_key(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

int genrt_npy_read(const char *path, struct genrt_npy *a, struct genrt_err *err)
{
    memset(a, 0, sizeof *a);
    unsigned char *buf;
    size_t len;
    if (genrt_file_read_all(path, &buf, &len, err))
        return -1;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) || (buf[6] != 1 && buf[6] != 2))
        goto bad;
    size_t hl, off;
    if (buf[6] == 1) {
        hl = buf[8] | (size_t)buf[9] << 8, off = 10;
    } else {
        if (len < 12)
            goto bad;
        hl = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, off = 12;
    }
    if (hl > 65536 || off + hl > len)
        goto bad;
    char h[65537];
    memcpy(h, buf + off, hl);
    h[hl] = 0;
    const char *descr = npy_key(h, "descr"), *fo = npy_key(h, "fortran_order"), *sh = npy_key(h, "shape");
    if (!descr || !fo || !sh || *sh != '(')
        goto bad;
    if (strncmp(fo, "False", 5)) {
        free(buf);
        return genrt_err_set(err, "%s: a Fortran-order array; save it in C order", path);
    }
    if (!strncmp(descr, "'<f4'", 5))
        a->u8 = 0;
    else if (!strncmp(descr, "'|u1'", 5))
        a->u8 = 1;
    else {
        free(buf);
        return genrt_err_set(err, "%s: an array of %.8s; expected float32 ('<f4') or uint8 ('|u1')",
                             path, descr);
    }
    long n = 1;
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > (1L << 40) || a->n_dims == GENRT_NPY_MAX_DIMS)
            goto bad;
        a->dims[a->n_dims++] = v;
        if (v > 0 && n > (1L << 40) / v)
            goto bad;
        n *= v;
        p = end;
    }
    size_t width = a->u8 ? 1 : 4;
    if (a->n_dims == 0 || len - off - hl != (size_t)n * width) {
        free(buf);
        return genrt_err_set(err, "%s: corrupt (%zu data bytes for %ld values)", path,
                             len - off - hl, n);
    }
    a->n = n;
    a->x = genrt_file_xmalloc((size_t)(n ? n : 1) * sizeof *a->x);
    const unsigned char *d = buf + off + hl;
    for (long i = 0; i < n; i++) {
        if (a->u8) {
            a->x[i] = d[i];
        } else {
            uint32_t u = d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
                         (uint32_t)d[4 * i + 3] << 24;
            memcpy(&a->x[i], &u, 4);
        }
    }
    free(buf);
    return 0;
bad:
    free(buf);
    return genrt_err_set(err, "%s: not a NumPy .npy file (or a corrupt one)", path);
}

void genrt_npy_free(struct genrt_npy *a)
{
    free(a->x);
    a->x = NULL;
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
