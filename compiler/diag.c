/* diag.c: GNU-style diagnostics with the source line and a caret. */
#include "genc.h"

#include <string.h>

enum { MAX_ERRORS = 20 };

static const struct source *src;
static int n_errors;
static FILE *sink; /* NULL: stderr */

void diag_init(const struct source *s) {
    src = s;
    n_errors = 0;
}

void diag_set_stream(FILE *f) { sink = f; }

static FILE *out(void) { return sink ? sink : stderr; }

/* Lines end at "\n", "\r\n" or a lone "\r" (old Mac files), as in the lexer. */
static bool is_eol(char c) { return c == '\n' || c == '\r'; }

static const char *next_line(const char *p, const char *end) {
    while (p < end && !is_eol(*p))
        p++;
    if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
        p++;
    return p < end ? p + 1 : p;
}

int diag_error_count(void) { return n_errors; }

bool diag_too_many(void) { return n_errors >= MAX_ERRORS; }

/* Print line `line` of the source and underline columns [col, end_col]. */
static void show_line(struct loc loc) {
    if (!src || loc.line < 1)
        return;
    const char *p = src->text, *end = src->text + src->len;
    for (int l = 1; l < loc.line; l++) {
        if (p == end)
            return;
        p = next_line(p, end);
    }
    if (p == end && loc.line > 1 && !is_eol(p[-1]))
        return;
    const char *eol = p;
    while (eol < end && !is_eol(*eol))
        eol++;
    /* Show the line with unprintable bytes as '?', so a binary file cannot
     * garble the terminal. */
    FILE *f = out();
    fputc(' ', f);
    for (const char *q = p; q < eol && q - p < 200; q++)
        fputc(*q == '\t' ? ' ' : (*q >= 32 && *q < 127) ? *q : '?', f);
    fputs("\n ", f);
    int col = loc.col < 1 ? 1 : loc.col;
    int last = loc.end_line == loc.line && loc.end_col >= col ? loc.end_col : col;
    if (col > 201)
        col = 201;
    if (last > 201)
        last = 201;
    for (int c = 1; c < col; c++)
        fputc(' ', f);
    fputc('^', f);
    for (int c = col + 1; c <= last; c++)
        fputc('~', f);
    fputc('\n', f);
}

static void vreport(struct loc loc, const char *kind, const char *fmt, va_list ap) {
    fprintf(out(), "%s:%d:%d: %s: ", src ? src->path : "genc", loc.line, loc.col, kind);
    vfprintf(out(), fmt, ap);
    fputc('\n', out());
    show_line(loc);
}

void error_at(struct loc loc, const char *fmt, ...) {
    if (n_errors++ >= MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(loc, "error", fmt, ap);
    va_end(ap);
    if (n_errors == MAX_ERRORS)
        fprintf(out(), "%s: too many errors, stopping\n", src ? src->path : "genc");
}

void warning_at(struct loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(loc, "warning", fmt, ap);
    va_end(ap);
}

void note_at(struct loc loc, const char *fmt, ...) {
    if (n_errors > MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(loc, "note", fmt, ap);
    va_end(ap);
}

void error_plain(const char *fmt, ...) {
    n_errors++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out(), "%s: error: ", src ? src->path : "genc");
    vfprintf(out(), fmt, ap);
    fputc('\n', out());
    va_end(ap);
}
