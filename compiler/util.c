/* util.c: the compiler's arena allocator, strings and name suggestions. */
#include "genc.h"

#include <stdlib.h>
#include <string.h>

/* Each allocation is a block on one singly linked list, so everything the
 * compiler made can be freed at once; nothing is freed piecemeal. */
struct block {
    struct block *next;
    max_align_t data[];
};

static struct block *blocks;

void *xalloc(size_t n) {
    struct block *b = calloc(1, sizeof *b + n);
    if (!b) {
        fprintf(stderr, "genc: out of memory\n");
        exit(1);
    }
    b->next = blocks;
    blocks = b;
    return b->data;
}

void *xrealloc_arr(void *p, size_t old_n, size_t new_n, size_t elem) {
    void *q = xalloc(new_n * elem);
    if (p)
        memcpy(q, p, old_n * elem);
    return q;
}

char *xstrndup(const char *s, size_t n) {
    char *p = xalloc(n + 1);
    memcpy(p, s, n);
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void genc_free_all(void) {
    while (blocks) {
        struct block *b = blocks;
        blocks = b->next;
        free(b);
    }
}

_Noreturn void unreachable_at(const char *file, int line) {
    fprintf(stderr, "genc: internal error at %s:%d; please report this bug\n", file, line);
    exit(70);
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1 << 20;
    /* optimal string alignment: insert, delete, substitute, swap neighbours */
    int d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *closest_name(const char *name, const char *const *cands, int n) {
    const char *best = NULL;
    int best_d = 1 << 20;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(name, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    /* Suggest only plausible typos (an edit per three letters, at least
     * one) or a name the user shortened or lengthened. */
    size_t len = strlen(name);
    int limit = len < 6 ? 1 : (int)len / 3;
    if (best_d <= limit)
        return best;
    if (best && best_d < (int)len && (!strncmp(best, name, strlen(best)) || !strncmp(best, name, len)))
        return best;
    return NULL;
}
