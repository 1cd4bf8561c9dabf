/* genrt_data.c: see genrt_data.h. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "genrt_data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "genrt_file.h"

#define GENRT_TWO_PI 6.283185307179586476925286766559
#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds DIR/BASE, else DIR/BASE.gz; *out is malloc'd. */
static int find_idx(const char *dir, const char *base, char **out, struct genrt_err *err)
{
    struct stat st;
    char *plain = genrt_file_join(dir, base);
    if (stat(plain, &st) == 0) {
        *out = plain;
        return 0;
    }
    size_t n = strlen(plain);
    char *gz = genrt_file_xmalloc(n + 4);
    memcpy(gz, plain, n);
    memcpy(gz + n, ".gz", 4);
    if (stat(gz, &st) == 0) {
        free(plain);
        *out = gz;
        return 0;
    }
    if (stat(dir, &st) != 0)
        genrt_err_set(err, "%s: no such directory (looking for %s)", dir, base);
    else
        genrt_err_set(err, "%s: no such file (nor %s)", gz, plain);
    free(plain);
    free(gz);
    return -1;
}

/* Reads up to n bytes, adding the count to *got; short only at the end of
 * the data.  A gzip stream that stops early counts as the end (the caller
 * reports truncation); corrupt gzip data is an error. */
static int gz_read_full(gzFile g, const char *path, unsigned char *p, uint64_t n, uint64_t *got,
                        struct genrt_err *err)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t want = n - done;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int r = gzread(g, p + done, chunk);
        if (r <= 0) {
            int code;
            const char *msg = gzerror(g, &code);
            if (code == Z_OK || code == Z_BUF_ERROR) /* end of data, or "unexpected end of file" */
                break;
            if (code == Z_ERRNO)
                return genrt_err_set(err, "%s: cannot read: %s", path, strerror(errno));
            return genrt_err_set(err, "%s: corrupt gzip data (%s)", path, msg);
        }
        done += (uint64_t)r;
    }
    *got += done;
    return 0;
}

/* Opens an IDX file and reads its header: magic, then n_dims big-endian
 * u32 dims. */
static int idx_open(const char *path, uint32_t magic, const char *kind, int n_dims,
                    uint32_t *dims, gzFile *out, struct genrt_err *err)
{
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return genrt_err_set(err, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(g, 1 << 17);
    uint64_t hsize = 4 + 4 * (uint64_t)n_dims, got = 0;
    unsigned char hdr[16];
    if (gz_read_full(g, path, hdr, hsize, &got, err))
        goto fail;
    if (got >= 4 && be32(hdr) != magic) {
        genrt_err_set(err, "%s: bad magic 0x%08x (not an IDX %s file)", path, be32(hdr), kind);
        goto fail;
    }
    if (got < hsize) {
        genrt_err_set(err, "%s: truncated: expected a %llu-byte header, got %llu bytes", path,
                      (unsigned long long)hsize, (unsigned long long)got);
        goto fail;
    }
    for (int i = 0; i < n_dims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    *out = g;
    return 0;
fail:
    gzclose(g);
    return -1;
}

/* Reads exactly `size` payload bytes after a header of hsize bytes and
 * closes g.  The buffer grows as data arrive, so a corrupt header that
 * announces terabytes fails as "truncated", not as out-of-memory. */
static int idx_read_payload(gzFile g, const char *path, uint64_t hsize, uint64_t size,
                            uint8_t **data, struct genrt_err *err)
{
    uint64_t cap = size < (64u << 20) ? size : (64u << 20), got = 0;
    uint8_t *buf = genrt_file_xmalloc(cap);
    for (;;) {
        if (gz_read_full(g, path, buf + got, cap - got, &got, err))
            goto fail;
        if (got < cap || got == size)
            break;
        cap = cap * 2 < size ? cap * 2 : size;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            genrt_err_set(err, "%s: out of memory", path);
            goto fail;
        }
        buf = nb;
    }
    if (got < size) {
        genrt_err_set(err, "%s: truncated: expected %llu bytes, got %llu", path,
                      (unsigned long long)(hsize + size), (unsigned long long)(hsize + got));
        goto fail;
    }
    unsigned char extra;
    uint64_t more = 0;
    if (gz_read_full(g, path, &extra, 1, &more, err))
        goto fail;
    if (more) {
        genrt_err_set(err, "%s: trailing data after the %llu bytes its header announces", path,
                      (unsigned long long)(hsize + size));
        goto fail;
    }
    gzclose(g);
    *data = buf;
    return 0;
fail:
    gzclose(g);
    free(buf);
    return -1;
}

/* Reads an IDX image file and its label file into d. */
static int load_idx_files(struct genrt_data *d, const struct genrt_model *m, const char *ipath,
                          const char *lpath, struct genrt_err *err)
{
    uint32_t idims[3], ldims[1];
    gzFile g;

    if (idx_open(ipath, IDX_IMAGES_MAGIC, "image", 3, idims, &g, err))
        return -1;
    if (m->img_c != 1 || idims[1] != (uint32_t)m->img_h || idims[2] != (uint32_t)m->img_w) {
        genrt_err_set(err, "%s: images are 1x%ux%u but the model expects %dx%dx%d", ipath,
                      idims[1], idims[2], m->img_c, m->img_h, m->img_w);
        gzclose(g);
        return -1;
    }
    if (idims[0] == 0) {
        genrt_err_set(err, "%s: holds no images", ipath);
        gzclose(g);
        return -1;
    }
    /* img_h, img_w are ints, so this cannot overflow 64 bits */
    uint64_t isize = (uint64_t)idims[0] * idims[1] * idims[2];
    if (idx_read_payload(g, ipath, 16, isize, &d->images, err))
        return -1;

    if (idx_open(lpath, IDX_LABELS_MAGIC, "label", 1, ldims, &g, err))
        return -1;
    if (ldims[0] != idims[0]) {
        genrt_err_set(err, "%s: %u labels, but %s has %u images", lpath, ldims[0], ipath,
                      idims[0]);
        gzclose(g);
        return -1;
    }
    if (idx_read_payload(g, lpath, 8, ldims[0], &d->labels, err))
        return -1;

    d->n = (long)idims[0];
    d->c = 1;
    d->h = (int)idims[1];
    d->w = (int)idims[2];
    /* The format has 10 classes, whether or not a subset shows them all. */
    d->n_classes = GENRT_DATA_FMNIST_CLASSES;
    for (long i = 0; i < d->n; i++)
        d->n_classes = d->labels[i] >= d->n_classes ? d->labels[i] + 1 : d->n_classes;
    return 0;
}

static int load_idx(struct genrt_data *d, const struct genrt_model *m, const char *dir,
                    int train, struct genrt_err *err)
{
    const char *split = train ? "train" : "t10k";
    char base[64];
    char *ipath = NULL, *lpath = NULL;
    int rc = -1;

    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    if (find_idx(dir, base, &ipath, err))
        goto out;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    if (find_idx(dir, base, &lpath, err))
        goto out;
    rc = load_idx_files(d, m, ipath, lpath, err);
out:
    free(ipath);
    free(lpath);
    return rc;
}

/* ---------------------------------------------------------------- images */

/* A growable, sortable list of malloc'd strings. */
struct strlist {
    char **v;
    long n, cap;
};

static void strlist_push(struct strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = genrt_file_xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    size_t n = strlen(s) + 1;
    l->v[l->n] = genrt_file_xmalloc(n);
    memcpy(l->v[l->n++], s, n);
}

static void strlist_free(struct strlist *l)
{
    for (long i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

/* The image files of dir into *files and its subdirectories into *dirs
 * (if dirs), each sorted by name (strcmp: the same order in any locale).
 * Hidden entries (".*") are skipped.  A name that looks like an image but
 * cannot be stat'ed (a dangling link) is listed, so that loading it reports
 * why. */
static int list_dir(const char *dir, struct strlist *files, struct strlist *dirs,
                    struct genrt_err *err)
{
    errno = 0;
    DIR *dp = opendir(dir);
    if (!dp) {
        if (errno == ENOENT)
            return genrt_err_set(err, "%s: no such directory", dir);
        if (errno == ENOTDIR)
            return genrt_err_set(err, "%s: not a directory", dir);
        return genrt_err_set(err, "%s: cannot open directory: %s", dir, strerror(errno));
    }
    struct dirent *e;
    for (errno = 0; (e = readdir(dp)); errno = 0) {
        if (e->d_name[0] == '.')
            continue;
        char *path = genrt_file_join(dir, e->d_name);
        struct stat st;
        int ok = stat(path, &st) == 0;
        if (ok && S_ISDIR(st.st_mode)) {
            if (dirs)
                strlist_push(dirs, e->d_name);
        } else if ((!ok || S_ISREG(st.st_mode)) && is_image_name(e->d_name)) {
            strlist_push(files, e->d_name);
        }
        free(path);
    }
    int rerr = errno;
    closedir(dp);
    if (rerr)
        return genrt_err_set(err, "%s: cannot list directory: %s", dir, strerror(rerr));
    if (files->n > 1)
        qsort(files->v, (size_t)files->n, sizeof *files->v, cmp_str);
    if (dirs && dirs->n > 1)
        qsort(dirs->v, (size_t)dirs->n, sizeof *dirs->v, cmp_str);
    return 0;
}

static const char *channels_name(int c)
{
    static const char *const names[] = {"?", "gray", "gray+alpha", "RGB", "RGBA"};
    return c >= 1 && c <= 4 ? names[c] : names[0];
}

/* What stb_image 2.27 (Debian 12's) must not see in a JPEG, or NULL:
 * - a Huffman table whose 16 code counts sum past 256: stb_image writes
 *   past the table (memory corruption; upstream checks since 2.28);
 * - a scan that decodes with a Huffman table no DHT segment before it
 *   defined: stb_image's decoder struct comes from malloc, not zeroed, so
 *   such a table is stale heap bytes whose fast table, codes and offsets
 *   disagree (an assertion in stbi__jpeg_huff_decode, or reads anywhere
 *   through a garbage offset).  Encoders write every table a scan uses;
 *   Motion-JPEG frames, which leave out the standard tables, never decoded
 *   right with stb_image;
 * - more than JPEG_MAX_SCANS scans: each decodes the whole image again, so
 *   a small file could take hours.
 * The file is walked as stb_image reads it: segments by their length,
 * entropy-coded data up to the first marker that is not a restart.  Where
 * stb_image would stop with an error the walk goes on, so it sees every
 * table stb_image could read (and no bytes inside an EXIF block or after
 * the end of the image, which may hold anything). */
#define JPEG_MAX_SCANS 100

/* stb_image's get16be: past the end of the file it reads zeros */
static long jpeg_get16(FILE *f)
{
    int hi = getc(f), lo = getc(f);
    return (long)(hi == EOF ? 0 : hi) << 8 | (lo == EOF ? 0 : lo);
}

/* The next marker's code: any bytes up to an FF, fill FFs, then the code;
 * after a scan, also past stuffed FF 00 and restarts (FF D0-D7).  EOF at
 * the end. */
static int jpeg_next_marker(FILE *f, int in_scan)
{
    for (;;) {
        int c;
        while ((c = getc(f)) != EOF && c != 0xff)
            ;
        while (c == 0xff)
            c = getc(f);
        if (c == EOF || !in_scan || (c != 0 && !(c >= 0xd0 && c <= 0xd7)))
            return c;
    }
}

/* A DHT segment's tables, as stb_image reads them: 1 if one is too large.
 * Sets bit 4 * class + id of *defined for each table it defines (class 0
 * is DC, 1 AC; stb_image refuses a larger class or an id past 3). */
static int jpeg_bad_huffman(FILE *f, long left, unsigned *defined)
{
    while (left > 0) {
        int n = 0, q = getc(f); /* table class and id */
        if (q != EOF && q >> 4 <= 1 && (q & 15) <= 3)
            *defined |= 1u << (4 * (q >> 4) + (q & 15));
        for (int i = 0; i < 16; i++) {
            int k = getc(f);
            n += k == EOF ? 0 : k;
        }
        if (n > 256)
            return 1;
        if (fseek(f, n, SEEK_CUR) != 0)
            return 0;
        left -= 17 + n;
    }
    return 0;
}

/* A scan's header (after its length, len) against the Huffman tables
 * defined so far: the first table it would decode with that is not among
 * them, as 4 * class + id, or -1.  What stb_image decodes with: a baseline
 * scan, each component's DC and AC tables; a progressive one, the DC table
 * in a first DC scan (Ss 0, Ah 0), none in a DC refinement, the AC table in
 * an AC scan.  A header stb_image refuses (its length or a table id) is
 * not checked: the decoding stops there. */
static int jpeg_scan_undefined(FILE *f, long len, int progressive, unsigned defined)
{
    int ns = getc(f), q[4];
    if (ns < 1 || ns > 4 || len != 6 + 2 * ns)
        return -1;
    for (int i = 0; i < ns; i++) {
        getc(f); /* component id */
        q[i] = getc(f);
        if (q[i] == EOF || q[i] >> 4 > 3 || (q[i] & 15) > 3)
            return -1;
    }
    int ss = getc(f), se = getc(f), a = getc(f);
    if (ss == EOF || se == EOF || a == EOF)
        return -1;
    for (int i = 0; i < ns; i++) {
        int dc = q[i] >> 4, ac = 4 + (q[i] & 15);
        int use_dc = !progressive || (ss == 0 && a >> 4 == 0), use_ac = !progressive || ss != 0;
        if (use_dc && !(defined >> dc & 1))
            return dc;
        if (use_ac && !(defined >> ac & 1))
            return ac;
    }
    return -1;
}

static const char *jpeg_refusal(FILE *f)
{
    static const char *const undefined_table[8] = {
        "a scan uses the DC Huffman table 0, which no DHT before it defines",
        "a scan uses the DC Huffman table 1, which no DHT before it defines",
        "a scan uses the DC Huffman table 2, which no DHT before it defines",
        "a scan uses the DC Huffman table 3, which no DHT before it defines",
        "a scan uses the AC Huffman table 0, which no DHT before it defines",
        "a scan uses the AC Huffman table 1, which no DHT before it defines",
        "a scan uses the AC Huffman table 2, which no DHT before it defines",
        "a scan uses the AC Huffman table 3, which no DHT before it defines",
    };
    int scans = 0, m, progressive = 0, undef;
    unsigned defined = 0; /* bit 4 * class + id: the Huffman tables DHTs defined */
    if (fseek(f, 2, SEEK_SET) != 0) /* after the SOI marker the caller checked */
        return "cannot seek";
    for (m = jpeg_next_marker(f, 0); m != EOF && m != 0xd9; ) { /* up to EOI */
        if (m == 0 || m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7))
            return NULL; /* no length: stb_image stops there */
        long at = ftell(f), len = jpeg_get16(f);
        if (len < 2)
            return NULL; /* so does it here */
        if (m == 0xc4 && jpeg_bad_huffman(f, len - 2, &defined))
            return "a Huffman table holds more than 256 codes";
        if (m >= 0xc0 && m <= 0xc2) /* the frames stb_image decodes */
            progressive = m == 0xc2;
        if (m == 0xda && ++scans > JPEG_MAX_SCANS)
            return "more than 100 scans";
        if (m == 0xda && (undef = jpeg_scan_undefined(f, len, progressive, defined)) >= 0)
            return undefined_table[undef];
        if (fseek(f, at + len, SEEK_SET) != 0)
            return "cannot seek";
        m = jpeg_next_marker(f, m == 0xda);
    }
    return ferror(f) ? "cannot read it" : NULL;
}

/* What stb_image must not see in a PNG, or NULL: a chunk longer than the
 * rest of the file.  stb_image grows its buffer to a chunk's announced
 * length before reading it: 126 bytes could make it allocate 4 GB. */
static const char *png_refusal(FILE *f)
{
    if (fseek(f, 0, SEEK_END) != 0)
        return "cannot seek";
    long size = ftell(f), at = 8;
    while (at + 8 <= size) {
        unsigned char hdr[8];
        if (fseek(f, at, SEEK_SET) != 0 || fread(hdr, 1, 8, f) != 8)
            return "cannot read it";
        uint32_t len = be32(hdr);
        if (len > (uint64_t)(size - at - 8))
            return "a chunk runs past the end of the file";
        if (!memcmp(hdr + 4, "IEND", 4))
            break;
        at += 12 + (long)len;
    }
    return NULL;
}

/* Decodes one image file, read from f, into out: h x w pixels of c
 * channels, channels-last.  Only PNG and JPEG get to stb_image (it knows
 * more formats, with less tested decoders), and only after the header's
 * size is checked against GENRT_DATA_MAX_IMAGE_PIXELS. */
static int decode_image(FILE *f, const char *path, int c, int h, int w, uint8_t *out,
                        struct genrt_err *err)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char magic[8];
    size_t got = fread(magic, 1, sizeof magic, f);
    if (!(got == 8 && !memcmp(magic, png_sig, 8)) &&
        !(got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff))
        return genrt_err_set(err, "%s: not a readable PNG or JPEG image (no PNG or JPEG signature)",
                             path);
    const char *why = magic[0] == 0xff ? jpeg_refusal(f) : png_refusal(f);
    if (why)
        return genrt_err_set(err, "%s: not a readable PNG or JPEG image (corrupt %s: %s)", path,
                             magic[0] == 0xff ? "JPEG" : "PNG", why);
    if (fseek(f, 0, SEEK_SET) != 0)
        return genrt_err_set(err, "%s: cannot read: %s", path, strerror(errno));
    int fw, fh, fc;
    if (!stbi_info_from_file(f, &fw, &fh, &fc))
        return genrt_err_set(err, "%s: not a readable PNG or JPEG image (%s)", path,
                             stbi_failure_reason());
    if ((long)fw * fh > GENRT_DATA_MAX_IMAGE_PIXELS)
        return genrt_err_set(err, "%s: %dx%d pixels, more than the %ld (8192x8192) an input "
                             "image may have; shrink it first", path, fw, fh,
                             (long)GENRT_DATA_MAX_IMAGE_PIXELS);
    /* Alpha may go, but color is not made up or thrown away. */
    int file_gray = fc <= 2;
    if (file_gray != (c == 1))
        return genrt_err_set(err, "%s: %d channel%s (%s), but the spec wants %d (%s)", path, fc,
                             fc == 1 ? "" : "s", channels_name(fc), c, channels_name(c));
    int lw, lh, lc;
    uint8_t *px = stbi_load_from_file(f, &lw, &lh, &lc, c);
    if (!px)
        return genrt_err_set(err, "%s: not a readable PNG or JPEG image (%s)", path,
                             stbi_failure_reason());
    int rc = 0;
    if (lw != fw || lh != fh) /* one header, read twice: cannot differ */
        rc = genrt_err_set(err, "%s: corrupt (its size changed while decoding)", path);
    else if (fw == w && fh == h)
        memcpy(out, px, (size_t)w * h * c);
    else if (!stbir_resize_uint8(px, fw, fh, 0, out, w, h, 0, c))
        rc = genrt_err_set(err, "%s: cannot resize %dx%d to %dx%d (out of memory?)", path, fw,
                           fh, w, h);
    stbi_image_free(px);
    return rc;
}

static int load_image(const char *path, int c, int h, int w, uint8_t *out,
                      struct genrt_err *err)
{
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return genrt_err_set(err, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    int rc = decode_image(f, path, c, h, w, out, err);
    fclose(f);
    return rc;
}

/* Lists dir (and its class subfolders) and decodes every image. */
static int load_images(struct genrt_data *d, const struct genrt_model *m, const char *dir,
                       struct genrt_err *err)
{
    struct strlist top = {0}, subdirs = {0}, paths = {0}, classes = {0}, files = {0};
    uint8_t *labels = NULL;
    long cap = 0;
    int rc = -1;

    if (list_dir(dir, &top, &subdirs, err))
        goto out;
    for (long i = 0; i < subdirs.n; i++) {
        char *sub = genrt_file_join(dir, subdirs.v[i]);
        int r = list_dir(sub, &files, NULL, err);
        if (!r && files.n > 0) {
            if (classes.n == GENRT_DATA_MAX_CLASSES) {
                genrt_err_set(err, "%s: more than %d class subfolders", dir,
                              GENRT_DATA_MAX_CLASSES);
                r = -1;
            } else {
                for (long j = 0; j < files.n; j++) {
                    if (paths.n == cap) {
                        cap = cap ? 2 * cap : 64;
                        labels = genrt_file_xrealloc(labels, (size_t)cap);
                    }
                    labels[paths.n] = (uint8_t)classes.n;
                    char *p = genrt_file_join(sub, files.v[j]);
                    strlist_push(&paths, p);
                    free(p);
                }
                strlist_push(&classes, subdirs.v[i]);
            }
        }
        strlist_free(&files);
        free(sub);
        if (r)
            goto out;
    }
    if (classes.n > 0 && top.n > 0) {
        genrt_err_set(err, "%s: holds images (%s) next to class subfolders (%s/); put every "
                      "image in a class subfolder", dir, top.v[0], classes.v[0]);
        goto out;
    }
    if (classes.n == 0) {
        for (long j = 0; j < top.n; j++) {
            char *p = genrt_file_join(dir, top.v[j]);
            strlist_push(&paths, p);
            free(p);
        }
        labels = genrt_file_xcalloc((size_t)(paths.n ? paths.n : 1), 1);
    }
    if (paths.n == 0) {
        genrt_err_set(err, "%s: no images (.png, .jpg, .jpeg) in it or its subfolders", dir);
        goto out;
    }
    if ((uint64_t)paths.n > UINT32_MAX) {
        genrt_err_set(err, "%s: %ld images are too many", dir, paths.n);
        goto out;
    }

    int c = m->img_c, h = m->img_h, w = m->img_w;
    size_t px = (size_t)c * h * w;
    d->images = genrt_file_xmalloc((size_t)paths.n * px);
    for (long i = 0; i < paths.n; i++)
        if (load_image(paths.v[i], c, h, w, d->images + (size_t)i * px, err))
            goto out;
    d->n = paths.n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->labels = labels;
    labels = NULL;
    d->n_classes = classes.n > 0 ? (int)classes.n : 1;
    if (classes.n > 0) {
        d->class_names = classes.v; /* the names, now owned by d */
        classes.v = NULL;
        classes.n = 0;
    }
    rc = 0;
out:
    strlist_free(&top);
    strlist_free(&subdirs);
    strlist_free(&paths);
    strlist_free(&classes);
    free(labels);
    return rc;
}

/* This epoch's order: a Fisher-Yates shuffle of the identity, drawn from a
 * stream that depends only on (seed, epoch), so any epoch can be rebuilt. */
static void shuffle(struct genrt_data *d)
{
    struct genrt_rng r;
    uint64_t s = genrt_rng_derive(d->seed, GENRT_STREAM_SHUFFLE);
    genrt_rng_seed(&r, genrt_rng_derive(s, d->st.epoch));
    for (long i = 0; i < d->n; i++)
        d->order[i] = (uint32_t)i;
    for (long i = d->n - 1; i > 0; i--) {
        long j = (long)genrt_rng_below(&r, (uint64_t)i + 1);
        uint32_t t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
}

/* Pixel bytes -> floats, the epoch order and the first shuffle. */
static void start_epochs(struct genrt_data *d, const struct genrt_model *m)
{
    /* Exact ends: computing 255 * ((hi - lo) / 255) could miss hi. */
    for (int i = 0; i < 256; i++)
        d->lut[i] = (float)(m->range_lo + ((double)m->range_hi - m->range_lo) * i / 255.0);
    d->lut[0] = m->range_lo;
    d->lut[255] = m->range_hi;
    d->order = genrt_file_xmalloc((size_t)d->n * sizeof *d->order);
    shuffle(d);
}

/* A conditional model's labels index its class tables: the data must have
 * exactly its classes. */
static int check_classes(const struct genrt_data *d, const struct genrt_model *m,
                         const char *path, struct genrt_err *err)
{
    int k = m->n_classes;
    const char *s = k == 1 ? "" : "es";
    if (k <= 0 || d->n_classes == k)
        return 0;
    switch (d->kind) {
    case GENRT_DATA_IMAGES:
        if (!d->class_names)
            return genrt_err_set(err, "%s: no class subfolders (all images are one class), but "
                                 "the model has %d class%s", path, k, s);
        return genrt_err_set(err, "%s: %d class subfolder%s, but the model has %d class%s", path,
                             d->n_classes, d->n_classes == 1 ? "" : "s", k, s);
    case GENRT_DATA_FASHION_MNIST:
        return genrt_err_set(err, "%s: the fashion_mnist data have %d classes, but the model "
                             "has %d class%s", path, d->n_classes, k, s);
    default:
        return genrt_err_set(err, "ring8 has %d classes (one per mode), but the model has %d "
                             "class%s", d->n_classes, k, s);
    }
}

/* Keeps only the examples of class k, in file order (before the first
 * shuffle, which would otherwise index the dropped ones). */
/* Keeps the first n examples (those a class filter kept, or the spec's
 * `limit N`), in file order. */
static void keep_first(struct genrt_data *d, long n)
{
    d->n = n;
    d->images = genrt_file_xrealloc(d->images, (size_t)n * d->c * d->h * d->w);
    d->labels = genrt_file_xrealloc(d->labels, (size_t)n);
}

static int keep_class(struct genrt_data *d, int k, const char *path, int train,
                      struct genrt_err *err)
{
    size_t px = (size_t)d->c * d->h * d->w;
    long kept = 0;
    for (long i = 0; i < d->n; i++) {
        if (d->labels[i] != k)
            continue;
        if (kept != i) { /* kept < i: the regions never overlap */
            memcpy(d->images + (size_t)kept * px, d->images + (size_t)i * px, px);
            d->labels[kept] = d->labels[i];
        }
        kept++;
    }
    if (kept == 0) {
        if (d->kind == GENRT_DATA_FASHION_MNIST)
            return genrt_err_set(err, "%s: no examples of class %d in the %s split (its classes "
                                 "are 0 to %d)", path, k, train ? "train" : "test",
                                 d->n_classes - 1);
        if (!d->class_names)
            return genrt_err_set(err, "%s: no examples of class %d (no class subfolders: every "
                                 "image is class 0)", path, k);
        return genrt_err_set(err, "%s: no examples of class %d (its %d class subfolders are "
                             "classes 0 to %d)", path, k, d->n_classes, d->n_classes - 1);
    }
    keep_first(d, kept);
    return 0;
}

void genrt_data_domain_model(const struct genrt_model *m, int domain, struct genrt_model *out)
{
    *out = *m;
    if (domain != GENRT_DOMAIN_B)
        return;
    const struct genrt_domain *b = m->domain_b;
    out->data_kind = b->data_kind;
    out->data_path = b->data_path;
    out->data_train = b->data_train;
    out->data_class = b->data_class;
    out->data_limit = b->data_limit;
    out->range_lo = b->range_lo;
    out->range_hi = b->range_hi;
    out->img_c = b->img_c;
    out->img_h = b->img_h;
    out->img_w = b->img_w;
    out->sample_size = b->sample_size;
    out->n_classes = 0;
}

int genrt_data_has_split(int kind, int split)
{
    switch (split) {
    case GENRT_SPLIT_MODEL:
        return 1;
    case GENRT_SPLIT_TRAIN:
        return kind == GENRT_DATA_FASHION_MNIST || kind == GENRT_DATA_IMAGES;
    case GENRT_SPLIT_TEST:
        return kind == GENRT_DATA_FASHION_MNIST;
    default:
        return 0;
    }
}

int genrt_data_open(struct genrt_data *d, const struct genrt_model *m, const char *path,
                    uint64_t seed, struct genrt_err *err)
{
    return genrt_data_open_split(d, m, path, GENRT_SPLIT_MODEL, seed, err);
}

int genrt_data_open_split(struct genrt_data *d, const struct genrt_model *m, const char *path,
                          int split, uint64_t seed, struct genrt_err *err)
{
    memset(d, 0, sizeof *d);
    if (split != GENRT_SPLIT_MODEL && split != GENRT_SPLIT_TRAIN && split != GENRT_SPLIT_TEST)
        return genrt_err_set(err, "unknown data split %d", split);
    if (m->data_kind == GENRT_DATA_IMAGES && split == GENRT_SPLIT_TEST)
        return genrt_err_set(err, "images data have no test split (the whole directory is the "
                             "train split)");
    if (m->data_kind == GENRT_DATA_RING8 && split != GENRT_SPLIT_MODEL)
        return genrt_err_set(err, "ring8 data have no %s split (they are an endless generated "
                             "stream)", split == GENRT_SPLIT_TEST ? "test" : "train");
    int train = split == GENRT_SPLIT_MODEL ? m->data_train != 0 : split == GENRT_SPLIT_TRAIN;
    d->kind = m->data_kind;
    d->seed = seed;
    d->sample_size = m->sample_size;
    d->data_class = m->data_class >= 0 ? m->data_class : -1;
    if (!path)
        path = m->data_path;

    switch (m->data_kind) {
    case GENRT_DATA_FASHION_MNIST:
    case GENRT_DATA_IMAGES: {
        if (!path || !path[0])
            return genrt_err_set(err, "no data directory given (use --data DIR)");
        if (m->sample_size != (long)m->img_c * m->img_h * m->img_w)
            return genrt_err_set(err, "model error: sample_size %ld is not %dx%dx%d",
                                 m->sample_size, m->img_c, m->img_h, m->img_w);
        if (m->data_kind == GENRT_DATA_IMAGES &&
            ((m->img_c != 1 && m->img_c != 3) || m->img_h <= 0 || m->img_w <= 0))
            return genrt_err_set(err, "model error: images of %dx%dx%d (C must be 1 or 3)",
                                 m->img_c, m->img_h, m->img_w);
        int r = m->data_kind == GENRT_DATA_IMAGES ? load_images(d, m, path, err)
                                                  : load_idx(d, m, path, train, err);
        if (r || check_classes(d, m, path, err) ||
            (d->data_class >= 0 && keep_class(d, d->data_class, path, train, err))) {
            genrt_data_close(d);
            return -1;
        }
        if (split == GENRT_SPLIT_MODEL && m->data_limit > 0 && d->n > m->data_limit)
            keep_first(d, m->data_limit);
        start_epochs(d, m);
        return 0;
    }
    case GENRT_DATA_RING8:
        if (m->sample_size != 2)
            return genrt_err_set(err, "model error: ring8 examples are 2-D, sample_size is %ld",
                                 m->sample_size);
        if (d->data_class >= 0)
            return genrt_err_set(err, "model error: ring8 data have no class filter (data_class "
                                 "%d)", d->data_class);
        d->n_classes = GENRT_DATA_RING8_MODES;
        if (check_classes(d, m, path, err)) {
            genrt_data_close(d);
            return -1;
        }
        genrt_rng_seed(&d->st.rng, genrt_rng_derive(seed, GENRT_STREAM_RING8));
        return 0;
    default:
        return genrt_err_set(err, "model error: unknown data kind %d", m->data_kind);
    }
}

void genrt_data_close(struct genrt_data *d)
{
    free(d->images);
    free(d->labels);
    if (d->class_names)
        for (int i = 0; i < d->n_classes; i++)
            free(d->class_names[i]);
    free(d->class_names);
    free(d->order);
    memset(d, 0, sizeof *d);
}

int genrt_data_next_batch(struct genrt_data *d, float *out, int batch)
{
    return genrt_data_next_batch_labels(d, out, NULL, batch);
}

int genrt_data_next_batch_labels(struct genrt_data *d, float *out, int *labels, int batch)
{
    if (d->kind == GENRT_DATA_RING8) {
        for (int b = 0; b < batch; b++) {
            uint64_t k = genrt_rng_below(&d->st.rng, GENRT_DATA_RING8_MODES);
            double x, y;
            genrt_data_ring8_mode((int)k, &x, &y);
            x += GENRT_DATA_RING8_STD * genrt_rng_normal(&d->st.rng);
            y += GENRT_DATA_RING8_STD * genrt_rng_normal(&d->st.rng);
            out[2 * b] = (float)x;
            out[2 * b + 1] = (float)y;
            if (labels)
                labels[b] = (int)k;
        }
        return 0;
    }
    if (batch <= 0 || batch > d->n)
        return -1;
    /* Drop the epoch's last incomplete batch: every batch is full-size. */
    if (d->st.cursor + (uint64_t)batch > (uint64_t)d->n) {
        d->st.epoch++;
        d->st.cursor = 0;
        shuffle(d);
    }
    long px = (long)d->c * d->h * d->w;
    for (int b = 0; b < batch; b++) {
        uint32_t k = d->order[d->st.cursor + b];
        const uint8_t *img = d->images + (size_t)k * px;
        float *o = out + (size_t)b * px;
        for (long i = 0; i < px; i++)
            o[i] = d->lut[img[i]];
        if (labels)
            labels[b] = d->labels[k];
    }
    d->st.cursor += (uint64_t)batch;
    return 0;
}

void genrt_data_ring8_mode(int k, double *x, double *y)
{
    double a = GENRT_TWO_PI * (double)k / GENRT_DATA_RING8_MODES;
    *x = GENRT_DATA_RING8_RADIUS * cos(a);
    *y = GENRT_DATA_RING8_RADIUS * sin(a);
}

int genrt_data_read(const struct genrt_data *d, long first, long count, float *out,
                    int *labels)
{
    if (d->kind == GENRT_DATA_RING8 || !d->images || first < 0 || count < 0 ||
        count > d->n - first)
        return -1;
    long px = (long)d->c * d->h * d->w;
    for (long b = 0; b < count; b++) {
        const uint8_t *img = d->images + (size_t)(first + b) * px;
        float *o = out + (size_t)b * px;
        for (long i = 0; i < px; i++)
            o[i] = d->lut[img[i]];
        if (labels)
            labels[b] = d->labels[first + b];
    }
    return 0;
}

const char *genrt_data_kind_name(int kind)
{
    switch (kind) {
    case GENRT_DATA_FASHION_MNIST:
        return "fashion_mnist";
    case GENRT_DATA_RING8:
        return "ring8";
    case GENRT_DATA_IMAGES:
        return "images";
    default:
        return "unknown";
    }
}

void genrt_data_get_state(const struct genrt_data *d, struct genrt_data_state *st)
{
    *st = d->st;
}

int genrt_data_set_state(struct genrt_data *d, const struct genrt_data_state *st,
                         struct genrt_err *err)
{
    if (d->kind == GENRT_DATA_RING8) {
        if (genrt_rng_is_zero(&st->rng))
            return genrt_err_set(err, "the ring8 stream's state is all zeros, which no seed gives");
        d->st = *st;
        return 0;
    }
    if (st->cursor > (uint64_t)d->n)
        return genrt_err_set(err, "loader state is at example %llu of an epoch, but the data "
                             "set has only %ld examples", (unsigned long long)st->cursor, d->n);
    d->st = *st;
    shuffle(d);
    return 0;
}
