/* genrt_file.c: see genrt_file.h. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkstemp, fsync, fileno under -std=c11 */
#endif
#include "genrt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *genrt_file_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "genrt: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

void *genrt_file_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "genrt: out of memory (%zu x %zu bytes)\n", n, size);
        abort();
    }
    return p;
}

void *genrt_file_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q) {
        fprintf(stderr, "genrt: out of memory (%zu bytes)\n", size);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(genrt_file_xmalloc(n), s, n);
}

char *genrt_file_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = genrt_file_xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

/* The directory part of path ("." when there is none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *d = genrt_file_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

int genrt_file_create(struct genrt_file *af, const char *path, struct genrt_err *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    char *tmp = genrt_file_xmalloc(n + sizeof ".tmp.XXXXXX");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return genrt_err_set(err, "%s: cannot create: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; give it the mode open(2) would. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return genrt_err_set(err, "%s: cannot set mode: %s", path, strerror(e));
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return genrt_err_set(err, "%s: %s", path, strerror(e));
    }
    af->f = f;
    af->tmp = tmp;
    af->path = xstrdup(path);
    return 0;
}

void genrt_file_discard(struct genrt_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int genrt_file_commit(struct genrt_file *af, struct genrt_err *err)
{
    int e = 0;
    const char *what = "write";
    if (ferror(af->f))
        e = EIO;
    else if (fflush(af->f) != 0)
        e = errno;
    else if (fsync(fileno(af->f)) != 0)
        e = errno, what = "fsync";
    int rc = fclose(af->f);
    af->f = NULL;
    if (!e && rc != 0)
        e = errno;
    if (!e && rename(af->tmp, af->path) != 0)
        e = errno, what = "rename";
    if (e) {
        genrt_err_set(err, "%s: cannot %s: %s", af->path, what, strerror(e));
        genrt_file_discard(af);
        return -1;
    }
    /* The rename is durable only once the directory entry is on disk. */
    char *dir = dir_of(af->path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse directory fsync */
        close(dfd);
    }
    free(dir);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
    return 0;
}

int genrt_file_write_all(const char *path, const void *data, size_t len, struct genrt_err *err)
{
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        genrt_file_discard(&af);
        return genrt_err_set(err, "%s: cannot write: %s", path, strerror(e));
    }
    return genrt_file_commit(&af, err);
}

int genrt_file_read_all(const char *path, unsigned char **data, size_t *len, struct genrt_err *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return genrt_err_set(err, "%s: no such file", path);
        return genrt_err_set(err, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = genrt_file_xmalloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        unsigned char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            return genrt_err_set(err, "%s: out of memory", path);
        }
        buf = nb;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return genrt_err_set(err, "%s: cannot read: %s", path, strerror(e));
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int genrt_file_mkdirs(const char *dir, struct genrt_err *err)
{
    if (!dir[0])
        return genrt_err_set(err, "empty directory name");
    char *p = xstrdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    /* Create each prefix in turn; existing directories are fine. */
    for (char *s = p + 1;; s++) {
        int end = (*s == 0);
        if (*s != '/' && !end)
            continue;
        *s = 0;
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            genrt_err_set(err, "%s: cannot create directory: %s", p, strerror(e));
            free(p);
            return -1;
        }
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            genrt_err_set(err, "%s: not a directory", p);
            free(p);
            return -1;
        }
        if (end)
            break;
        *s = '/';
    }
    free(p);
    return 0;
}
