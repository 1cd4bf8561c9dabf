/* diag.c: GNU-style diagnostics with the source line and a caret. */
#include "genc.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ERRORS = 20 };

static const struct source *src;
static int n_errors;
static FILE *sink; /* NULL: stderr */
static int n_printed;   /* errors printed so far, against MAX_ERRORS */
static bool dropping;   /* the last error or warning was over a cap: its notes go too */

void diag_init(const struct source *s) {
    src = s;
    n_errors = n_printed = 0;
    dropping = false;
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
static void show_line(FILE *f, struct loc loc) {
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

/* While held (sema), each error or warning and the notes after it form a
 * group, kept in memory and printed sorted by position at diag_flush, so
 * checks may run in any order. */
struct group {
    struct loc loc;
    bool is_error;
    char *text;
    size_t len;
};

enum { MAX_GROUPS = 1000 }; /* kept while held; the cap prints at most MAX_ERRORS */

static bool held;
static VEC(struct group) groups;
static FILE *group_f;   /* the open group's stream */

static void close_group(void) {
    if (group_f)
        fclose(group_f);
    group_f = NULL;
}

void diag_hold(void) {
    held = true;
    /* a new vector: the last one was in the arena, which may be freed */
    memset(&groups, 0, sizeof groups);
}

/* Print the groups sorted by line and column, equal positions in the order
 * they came; whole-file diagnostics (line 0) first.  The cap counts printed
 * errors, so the first MAX_ERRORS by position are the ones shown. */
void diag_flush(void) {
    close_group();
    held = false;
    int n = groups.len;
    struct group *g = groups.data;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, and n is small */
        struct group t = g[i];
        int j = i;
        while (j > 0 && (g[j - 1].loc.line > t.loc.line ||
                         (g[j - 1].loc.line == t.loc.line && g[j - 1].loc.col > t.loc.col))) {
            g[j] = g[j - 1];
            j--;
        }
        g[j] = t;
    }
    bool stopped = false;
    for (int i = 0; i < n; i++) {
        if (!stopped) {
            fwrite(g[i].text, 1, g[i].len, out());
            if (g[i].is_error && ++n_printed == MAX_ERRORS) {
                fprintf(out(), "%s: too many errors, stopping\n", src ? src->path : "genc");
                stopped = true;
            }
        }
        free(g[i].text);
    }
    memset(&groups, 0, sizeof groups);
}

/* Where a diagnostic of `kind` goes: stderr, a new group, or nowhere. */
static FILE *target(struct loc loc, const char *kind) {
    bool note = !strcmp(kind, "note");
    if (!held)
        return dropping && note ? NULL : out();
    if (note)
        return dropping ? NULL : group_f;
    close_group();
    dropping = groups.len >= MAX_GROUPS;
    if (dropping)
        return NULL;
    struct group g = {.loc = loc, .is_error = !strcmp(kind, "error")};
    vec_push(&groups, g);
    struct group *last = &groups.data[groups.len - 1];
    group_f = open_memstream(&last->text, &last->len);
    if (!group_f)
        unreachable();
    return group_f;
}

/* A location on line 0 is the whole file: no line, column or caret. */
static void vreport(struct loc loc, const char *kind, const char *fmt, va_list ap) {
    FILE *f = target(loc, kind);
    if (!f)
        return;
    if (loc.line < 1)
        fprintf(f, "%s: %s: ", src ? src->path : "genc", kind);
    else
        fprintf(f, "%s:%d:%d: %s: ", src ? src->path : "genc", loc.line, loc.col, kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    show_line(f, loc);
}

void error_at(struct loc loc, const char *fmt, ...) {
    if (!held && n_errors >= MAX_ERRORS) {
        n_errors++;
        dropping = true;
        return;
    }
    n_errors++;
    va_list ap;
    va_start(ap, fmt);
    dropping = false;
    vreport(loc, "error", fmt, ap);
    va_end(ap);
    if (!held && ++n_printed == MAX_ERRORS)
        fprintf(out(), "%s: too many errors, stopping\n", src ? src->path : "genc");
}

void warning_at(struct loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dropping = !held && n_errors >= MAX_ERRORS;
    vreport(loc, "warning", fmt, ap);
    va_end(ap);
}

void note_at(struct loc loc, const char *fmt, ...) {
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
