/* genrt_file.h: files that are either fully written or not there at all.
 *
 * Every file the runtime produces (checkpoints, metrics, images, arrays)
 * goes through genrt_file_create/commit: the bytes go to `path.tmp.XXXXXX`
 * in the same directory, which is flushed, fsync'd and renamed over `path`,
 * and then the directory is fsync'd.  A crash or an error never leaves a
 * half-written file under the real name, and never clobbers the old one. */
#ifndef GENRT_FILE_H
#define GENRT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "genrt_err.h"

struct genrt_file {
    FILE *f;    /* write here, between create and commit */
    char *path; /* final name */
    char *tmp;  /* temporary name, removed on discard */
};

/* Opens a temporary file next to path for writing. */
int genrt_file_create(struct genrt_file *af, const char *path, struct genrt_err *err);

/* Flushes, fsyncs and renames the temporary over path.  On failure the
 * temporary is removed and path is left as it was.  Either way af is
 * released. */
int genrt_file_commit(struct genrt_file *af, struct genrt_err *err);

/* Abandons the temporary file (safe on a released or zeroed af). */
void genrt_file_discard(struct genrt_file *af);

/* Writes len bytes to path atomically. */
int genrt_file_write_all(const char *path, const void *data, size_t len, struct genrt_err *err);

/* Reads a whole file into a malloc'd buffer (with a NUL byte after the
 * end, not counted in *len).  A missing file gives "PATH: no such file". */
int genrt_file_read_all(const char *path, unsigned char **data, size_t *len, struct genrt_err *err);

/* mkdir -p. */
int genrt_file_mkdirs(const char *dir, struct genrt_err *err);

/* "dir/name", malloc'd; aborts on out-of-memory like genrt_file_xmalloc. */
char *genrt_file_join(const char *dir, const char *name);

/* malloc that reports and aborts on failure: allocation failures are not an
 * input error the user can fix, and every caller would do the same. */
void *genrt_file_xmalloc(size_t size);
void *genrt_file_xcalloc(size_t n, size_t size);
void *genrt_file_xrealloc(void *p, size_t size);

#endif
