/* writer.c: the one writer of emitted C: lines at an indentation, blocks,
 * and the literals every site needs (reals exact in double, strings and
 * comments that nothing genc reads can break). */
#include "emit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct emit *emit_new(const char *path, const struct lowered *lo, const char *const *const_names) {
    struct emit *e = xalloc(sizeof *e);
    e->path = path;
    e->lo = lo;
    e->const_names = const_names;
    return e;
}

char *emit_text(struct emit *e, size_t *len) {
    *len = e->len;
    return e->buf ? e->buf : xstrdup("");
}

static void put(struct emit *e, const char *s, size_t n) {
    if (e->len + n + 1 > e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 1 << 16;
        while (nc < e->len + n + 1)
            nc *= 2;
        e->buf = xrealloc_arr(e->buf, e->len, nc, 1);
        e->cap = nc;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    e->buf[e->len] = 0;
}

static void vline(struct emit *e, const char *fmt, va_list ap) {
    char *s;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    s = xalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    if (n > 0)
        for (int i = 0; i < e->indent; i++)
            put(e, "    ", 4);
    put(e, s, (size_t)n);
    put(e, "\n", 1);
}

void emit_line(struct emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(e, fmt, ap);
    va_end(ap);
}

void emit_open(struct emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(e, fmt, ap);
    va_end(ap);
    e->indent++;
}

void emit_close(struct emit *e, const char *tail) {
    e->indent--;
    emit_line(e, "}%s", tail ? tail : "");
}

const char *emit_real(double v) {
    if (v == floor(v) && fabs(v) < 1e15)
        return xprintf("%s%.0f", v < 0 ? "-" : "", fabs(v));
    /* the shortest decimal that reads back as the same double */
    for (int prec = 6; prec < 17; prec++) {
        char *s = xprintf("%.*g", prec, v);
        if (strtod(s, NULL) == v)
            return xprintf("(real)%s", s);
    }
    return xprintf("(real)%.17g", v);
}


/* Strings genc did not make (paths, names from the spec) go into C through
 * these two only.  A string literal's body: backslash, quote and '?' (no
 * trigraph can form) escaped, newlines as \n, other bytes outside
 * printable ASCII as three octal digits, so the literal holds exactly the
 * original bytes. */
const char *c_str(const char *s) {
    size_t n = strlen(s);
    char *out = xalloc(4 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == '"' || *p == '?') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p < 0x20 || *p >= 0x7f) {
            o += sprintf(o, "\\%03o", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = 0;
    return out;
}

/* Text inside a comment: nothing that could end it ("*" "/") or open a
 * nested one, no line break, no trigraph; other unprintable bytes as '?'. */
const char *c_comment(const char *s) {
    size_t n = strlen(s);
    char *out = xalloc(2 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool pair = p[1] && ((p[0] == '*' && p[1] == '/') || (p[0] == '/' && p[1] == '*') ||
                             (p[0] == '?' && p[1] == '?'));
        *o++ = *p < 0x20 || *p >= 0x7f ? '?' : (char)*p;
        if (pair)
            *o++ = ' ';
    }
    *o = 0;
    return out;
}
