/* genrt_err.h: error messages that runtime functions hand back to callers.
 *
 * Library code never prints and never exits: a failing function fills a
 * struct genrt_err with one line (no "error:" prefix, no newline) and
 * returns -1.  The CLI prints it as "X: error: <msg>" and exits 1. */
#ifndef GENRT_ERR_H
#define GENRT_ERR_H

#if defined(__GNUC__)
#define GENRT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GENRT_PRINTF(f, a)
#endif

struct genrt_err {
    char msg[1024];
};

/* Formats the message into e (if e is not NULL) and returns -1, so a
 * failing function can `return genrt_err_set(err, ...)`.  Control bytes
 * and invalid UTF-8 in the result are escaped as \xNN: a message quoting a
 * hostile file name or file content stays one printable line. */
int genrt_err_set(struct genrt_err *e, const char *fmt, ...) GENRT_PRINTF(2, 3);

#endif
