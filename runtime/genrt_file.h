/* genrt_file.h: files that are either fully written or not there at all.
 *
 * Every file the runtime produces (checkpoints, metrics, images, arrays)
 * goes through genrt_file_create/commit: the bytes go to `path.tmp.XXXXXX`
 * in the same directory, which is flushed, fsync'd and renamed over `path`,
 * and then the directory is fsync'd.  A crash or an error never leaves a
 * half-written file under the real name, and never clobbers the old one.
 * The one file written in place is a resumed run's metrics.csv, appended
 * to (genrt_file_append): its rows up to the checkpoint stay as they were.
 * A killed process leaves its temporaries behind; the next run in the
 * directory removes them (genrt_file_remove_stale). */
#ifndef GENRT_FILE_H
#define GENRT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "genrt_err.h"

struct genrt_file_sink; /* the descriptor under f, and the first write error */

struct genrt_file {
    FILE *f;    /* write here, between create (or append) and commit */
    char *path; /* final name */
    char *tmp;  /* temporary name, removed on discard; NULL once published or in place */
    struct genrt_file_sink *sink;
    int live;   /* slot in the table of live temporaries (genrt_file_unlink_live), or -1 */
};

/* Opens a temporary file next to path for writing.  Write errors keep
 * their errno: a full disk says "No space left on device", a file over
 * RLIMIT_FSIZE "File too large" (with SIGXFSZ ignored, as the trainer
 * does), and the message names path. */
int genrt_file_create(struct genrt_file *af, const char *path, struct genrt_err *err);

/* Opens the existing file path for appending in place, after cutting it
 * to its first keep bytes. */
int genrt_file_append(struct genrt_file *af, const char *path, size_t keep,
                      struct genrt_err *err);

/* Flushes and fsyncs what was written so far (to the temporary, if not
 * yet published). */
int genrt_file_sync(struct genrt_file *af, struct genrt_err *err);

/* Syncs, renames the temporary over path and keeps the file open for more
 * writes, in place.  On failure af is released, the temporary removed and
 * path left as it was. */
int genrt_file_publish(struct genrt_file *af, struct genrt_err *err);

/* Flushes, fsyncs and renames the temporary over path (or, in place,
 * flushes, fsyncs and closes).  On failure the temporary is removed and
 * path is left as it was.  Either way af is released. */
int genrt_file_commit(struct genrt_file *af, struct genrt_err *err);

/* Abandons the temporary file (safe on a released or zeroed af); a file
 * opened in place is closed as it is. */
void genrt_file_discard(struct genrt_file *af);

/* Unlinks every temporary file still being written, and nothing else: for
 * a signal handler that is about to _exit (async-signal-safe). */
void genrt_file_unlink_live(void);

/* Removes the temporaries a killed process left in dir: the entries named
 * NAME.tmp.XXXXXX (six letters or digits, as genrt_file_create makes them)
 * for which ours(NAME) is 1.  Returns how many were removed, -1 on error. */
int genrt_file_remove_stale(const char *dir, int (*ours)(const char *name),
                            struct genrt_err *err);

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
