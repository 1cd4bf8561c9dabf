/* genrt_file.c: see genrt_file.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie; mkstemp, fsync under -std=c11 */
#endif
#include "genrt_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* ------------------------------------------------------ the write sink */

/* The FILE of a genrt_file writes through this cookie, so the errno of the
 * first failed write(2) is kept; stdio alone only says that one failed. */
struct genrt_file_sink {
    int fd;
    int err; /* errno of the first failed write, or 0 */
};

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    struct genrt_file_sink *s = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(s->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!s->err)
                s->err = w < 0 ? errno : EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static int sink_close(void *cookie)
{
    struct genrt_file_sink *s = cookie;
    int rc = close(s->fd);
    if (rc != 0 && !s->err)
        s->err = errno;
    s->fd = -1;
    return rc;
}

/* A FILE over fd (taken over: closed with the FILE). */
static FILE *sink_open(int fd, struct genrt_file_sink **sink)
{
    struct genrt_file_sink *s = genrt_file_xcalloc(1, sizeof *s);
    s->fd = fd;
    cookie_io_functions_t io = {.write = sink_write, .close = sink_close};
    FILE *f = fopencookie(s, "w", io);
    if (!f) {
        free(s);
        return NULL;
    }
    *sink = s;
    return f;
}

/* ------------------------------------------------- live temporaries */

/* The names of the temporaries being written, for genrt_file_unlink_live:
 * a slot's name is complete before its flag is set and the flag cleared
 * before the name changes, so a handler never unlinks half a name. */
#define LIVE_SLOTS 8
#define LIVE_NAME 4096
static char live_name[LIVE_SLOTS][LIVE_NAME];
static volatile sig_atomic_t live_used[LIVE_SLOTS];

static int live_add(const char *tmp)
{
    size_t n = strlen(tmp);
    if (n >= LIVE_NAME)
        return -1; /* too long to track: a stale-file sweep will find it */
    for (int i = 0; i < LIVE_SLOTS; i++) {
        if (live_used[i])
            continue;
        memcpy(live_name[i], tmp, n + 1);
        live_used[i] = 1;
        return i;
    }
    return -1;
}

static void live_drop(struct genrt_file *af)
{
    if (af->live >= 0)
        live_used[af->live] = 0;
    af->live = -1;
}

void genrt_file_unlink_live(void)
{
    for (int i = 0; i < LIVE_SLOTS; i++)
        if (live_used[i])
            unlink(live_name[i]);
}

/* ------------------------------------------------------------- files */

int genrt_file_create(struct genrt_file *af, const char *path, struct genrt_err *err)
{
    memset(af, 0, sizeof *af);
    af->live = -1;
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
    int live = live_add(tmp);
    /* mkstemp makes the file 0600; give it the mode open(2) would. */
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = NULL;
    const char *what = "cannot set mode";
    int e = 0;
    if (fchmod(fd, 0666 & ~mask) != 0)
        e = errno;
    else if (!(f = sink_open(fd, &af->sink)))
        e = errno, what = "cannot open";
    if (e) {
        close(fd);
        unlink(tmp);
        if (live >= 0)
            live_used[live] = 0;
        free(tmp);
        return genrt_err_set(err, "%s: %s: %s", path, what, strerror(e));
    }
    af->f = f;
    af->tmp = tmp;
    af->path = xstrdup(path);
    af->live = live;
    return 0;
}

int genrt_file_append(struct genrt_file *af, const char *path, size_t keep,
                      struct genrt_err *err)
{
    memset(af, 0, sizeof *af);
    af->live = -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return genrt_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    FILE *f = NULL;
    int e = 0;
    if (ftruncate(fd, (off_t)keep) != 0 || lseek(fd, 0, SEEK_END) < 0 ||
        !(f = sink_open(fd, &af->sink)))
        e = errno;
    if (e) {
        close(fd);
        return genrt_err_set(err, "%s: cannot append: %s", path, strerror(e));
    }
    af->f = f;
    af->path = xstrdup(path);
    return 0;
}

void genrt_file_discard(struct genrt_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    live_drop(af);
    free(af->sink);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
    af->live = -1;
}

/* The first write error, as errno, or 0. */
static int write_error(const struct genrt_file *af)
{
    if (af->sink->err)
        return af->sink->err;
    return ferror(af->f) ? EIO : 0;
}

int genrt_file_sync(struct genrt_file *af, struct genrt_err *err)
{
    int e = write_error(af);
    const char *what = "write";
    if (!e && fflush(af->f) != 0)
        e = af->sink->err ? af->sink->err : errno;
    if (!e && fsync(af->sink->fd) != 0)
        e = errno, what = "fsync";
    if (e)
        return genrt_err_set(err, "%s: cannot %s: %s", af->path, what, strerror(e));
    return 0;
}

/* The rename is durable only once the directory entry is on disk. */
static void sync_dir_of(const char *path)
{
    char *dir = dir_of(path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse directory fsync */
        close(dfd);
    }
    free(dir);
}

int genrt_file_publish(struct genrt_file *af, struct genrt_err *err)
{
    if (genrt_file_sync(af, err))
        goto fail;
    if (af->tmp) {
        if (rename(af->tmp, af->path) != 0) {
            genrt_err_set(err, "%s: cannot rename: %s", af->path, strerror(errno));
            goto fail;
        }
        live_drop(af);
        free(af->tmp);
        af->tmp = NULL;
        sync_dir_of(af->path);
    }
    return 0;
fail:
    genrt_file_discard(af);
    return -1;
}

int genrt_file_commit(struct genrt_file *af, struct genrt_err *err)
{
    if (genrt_file_sync(af, err)) {
        genrt_file_discard(af);
        return -1;
    }
    /* closed before the rename: a file under the real name is complete */
    int rc = fclose(af->f);
    af->f = NULL;
    int e = af->sink->err ? af->sink->err : rc != 0 ? errno : 0;
    if (e) {
        genrt_err_set(err, "%s: cannot close: %s", af->path, strerror(e));
        genrt_file_discard(af);
        return -1;
    }
    if (af->tmp) {
        if (rename(af->tmp, af->path) != 0) {
            genrt_err_set(err, "%s: cannot rename: %s", af->path, strerror(errno));
            genrt_file_discard(af);
            return -1;
        }
        live_drop(af);
        free(af->tmp);
        af->tmp = NULL;
        sync_dir_of(af->path);
    }
    genrt_file_discard(af); /* closed and renamed: only frees */
    return 0;
}

/* NAME.tmp.XXXXXX: the base NAME into base (of size n), or 0. */
static int temp_base(const char *entry, char *base, size_t n)
{
    size_t len = strlen(entry), suffix = sizeof ".tmp.XXXXXX" - 1;
    if (len <= suffix || len - suffix >= n || memcmp(entry + len - suffix, ".tmp.", 5) != 0)
        return 0;
    for (size_t i = len - 6; i < len; i++)
        if (!isalnum((unsigned char)entry[i]))
            return 0;
    memcpy(base, entry, len - suffix);
    base[len - suffix] = 0;
    return 1;
}

int genrt_file_remove_stale(const char *dir, int (*ours)(const char *name),
                            struct genrt_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return genrt_err_set(err, "%s: cannot list: %s", dir, strerror(errno));
    }
    int removed = 0;
    char base[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (!temp_base(e->d_name, base, sizeof base) || !ours(base))
            continue;
        char *p = genrt_file_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) == 0)
            removed++;
        free(p);
    }
    closedir(d);
    return removed;
}

int genrt_file_write_all(const char *path, const void *data, size_t len, struct genrt_err *err)
{
    struct genrt_file af;
    if (genrt_file_create(&af, path, err))
        return -1;
    if (len)
        fwrite(data, 1, len, af.f); /* commit reports a failed write, with its errno */
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
