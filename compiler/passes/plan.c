/* plan.c: the static memory plan.
 *
 * Every value that is stored and is neither an input nor persistent state
 * gets a buffer in one arena.  A buffer lives from the loop that writes it
 * to the last loop that reads it (a fused node is read where its group's
 * loop runs; a view is read wherever its views are).  An elementwise loop
 * may write over an input that dies there.  Offsets come from a greedy
 * first-fit over the live ranges, all at compile time; the buffers only a
 * convolution's fallback writes (conv.c) get the arena's end of their own. */
#include "../genc.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGN = 16 }; /* scalars: 64 bytes of float */

static bool has_arena_storage(const struct node *nd) {
    enum op_sched k = op_table[nd->op].sched;
    return !nd->dead && nd->fused_into < 0 && (k == S_ELEM || k == S_REDUCE || k == S_KERNEL);
}

/* operand i of elementwise node n is read at every element's index (not
 * once per channel or example), so n's loop may overwrite it */
static bool indexed_by_element(const struct node *n, int i) {
    enum bcast_kind k = op_table[n->op].operand[i];
    return k == BC_SAME || k == BC_SCALAR;
}

static const struct buffer *sort_bufs;

static int by_size_desc(const void *a, const void *b) {
    const struct buffer *x = &sort_bufs[*(const int *)a], *y = &sort_bufs[*(const int *)b];
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static long aligned(long n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static int by_first(const void *a, const void *b) {
    const struct buffer *x = &sort_bufs[*(const int *)a], *y = &sort_bufs[*(const int *)b];
    if (x->first != y->first)
        return x->first - y->first;
    return x->size != y->size ? (x->size > y->size ? -1 : 1) : *(const int *)a - *(const int *)b;
}

static int by_last_desc(const void *a, const void *b) {
    const struct buffer *x = &sort_bufs[*(const int *)a], *y = &sort_bufs[*(const int *)b];
    if (x->last != y->last)
        return y->last - x->last;
    return x->size != y->size ? (x->size > y->size ? -1 : 1) : *(const int *)a - *(const int *)b;
}

static int by_area(const void *a, const void *b) {
    const struct buffer *x = &sort_bufs[*(const int *)a], *y = &sort_bufs[*(const int *)b];
    double ax = (double)x->size * (x->last - x->first + 1), ay = (double)y->size * (y->last - y->first + 1);
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

/* First fit in the given order: each buffer at the lowest offset that
 * overlaps no placed buffer live at the same time.  Returns the arena. */
static long place(struct program *p, const int *order, int nb) {
    long arena = 0;
    int *placed = xalloc(sizeof(int) * (size_t)(nb + 1));
    int n_placed = 0;
    for (int k = 0; k < nb; k++) {
        struct buffer *b = &p->bufs.data[order[k]];
        long size = aligned(b->size);
        long off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < n_placed; j++) {
                struct buffer *o = &p->bufs.data[placed[j]];
                if (o->last < b->first || b->last < o->first)
                    continue;
                if (off < o->offset + aligned(o->size) && o->offset < off + size) {
                    off = o->offset + aligned(o->size);
                    moved = true;
                }
            }
        }
        b->offset = off;
        placed[n_placed++] = order[k];
        if (off + size > arena)
            arena = off + size;
    }
    return arena;
}

/* Offsets for the buffers set[0 .. nb): first fit over live ranges, trying
 * a few orders (biggest first, earliest first, largest size x lifetime,
 * latest-dying first) and keeping the smallest arena; the peak of their
 * simultaneously live scalars (*peak) is the bound none can beat.  Returns
 * their arena, from offset 0. */
static long place_set(struct program *p, const int *set, int nb, long *peak) {
    *peak = 0;
    for (int k = 0; k < nb; k++) { /* the live set grows only where a buffer starts */
        long live = 0;
        int at = p->bufs.data[set[k]].first;
        for (int j = 0; j < nb; j++)
            if (p->bufs.data[set[j]].first <= at && at <= p->bufs.data[set[j]].last)
                live += aligned(p->bufs.data[set[j]].size);
        if (live > *peak)
            *peak = live;
    }
    int *order = xalloc(sizeof(int) * (size_t)(nb + 1));
    long *best = xalloc(sizeof(long) * (size_t)(nb + 1));
    long best_arena = -1;
    int (*const orders[])(const void *, const void *) = {by_size_desc, by_first, by_area, by_last_desc};
    for (int heuristic = 0; heuristic < 4; heuristic++) {
        for (int k = 0; k < nb; k++)
            order[k] = set[k];
        sort_bufs = p->bufs.data;
        qsort(order, (size_t)nb, sizeof *order, orders[heuristic]);
        long arena = place(p, order, nb);
        if (best_arena < 0 || arena < best_arena) {
            best_arena = arena;
            for (int k = 0; k < nb; k++)
                best[k] = p->bufs.data[set[k]].offset;
        }
        if (arena <= *peak)
            break;
    }
    for (int k = 0; k < nb; k++)
        p->bufs.data[set[k]].offset = best[k];
    return best_arena < 0 ? 0 : best_arena;
}

void pass_plan(struct program *p) {
    struct ir *g = &p->ir;
    int n = g->nodes.len;
    int *last = xalloc(sizeof(int) * (size_t)n);
    for (int v = 0; v < n; v++)
        last[v] = -1;
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        if (nd->dead)
            continue;
        int at = fuse_root(p, v);
        for (int i = 0; i < nd->n_in; i++) {
            int s = ir_storage(g, nd->in[i]);
            if (last[s] < at)
                last[s] = at;
        }
        /* a convolution handed to oneDNN reads its guest's inputs (conv.c) */
        int guest = conv_guest_of(p, v);
        for (int i = 0; guest >= 0 && i < g->nodes.data[guest].n_in; i++) {
            int s = ir_storage(g, g->nodes.data[guest].in[i]);
            if (last[s] < at)
                last[s] = at;
        }
    }
    if (p->result >= 0)
        last[ir_storage(g, p->result)] = n;
    if (p->result2 >= 0)
        last[ir_storage(g, p->result2)] = n;

    memset(&p->bufs, 0, sizeof p->bufs);
    for (int v = 0; v < n; v++) {
        struct node *nd = &g->nodes.data[v];
        nd->buf = -1;
        if (!has_arena_storage(nd))
            continue;
        long size = shape_size(nd->shape);
        int end = last[v] < v ? v : last[v];
        /* In place: an elementwise loop may overwrite a same-sized input
         * that nothing reads after it. */
        if (op_table[nd->op].sched == S_ELEM) {
            for (int m = 0; m <= v && nd->buf < 0; m++) {
                struct node *mem = &g->nodes.data[m];
                if (mem->dead || fuse_root(p, m) != v)
                    continue;
                for (int i = 0; i < mem->n_in; i++) {
                    int s = ir_storage(g, mem->in[i]);
                    int b = g->nodes.data[s].buf;
                    if (b >= 0 && p->bufs.data[b].last == v && p->bufs.data[b].size == size &&
                        shape_size(g->nodes.data[mem->in[i]].shape) == size &&
                        indexed_by_element(mem, i)) {
                        nd->buf = b;
                        p->bufs.data[b].last = end;
                        break;
                    }
                }
            }
        }
        if (nd->buf < 0) {
            struct buffer b = {.size = size, .first = v, .last = end};
            vec_push(&p->bufs, b);
            nd->buf = p->bufs.len - 1;
        }
    }

    /* The buffers of convolution guests (conv.c), written only when oneDNN
     * does not run their convolution, go after all the others: a trainer
     * running oneDNN never touches that part of the arena. */
    int nb = p->bufs.len;
    bool *guest = xalloc(sizeof(bool) * (size_t)(nb + 1));
    for (int b = 0; b < nb; b++)
        guest[b] = false;
    for (int v = 0; v < n; v++)
        if (g->nodes.data[v].buf >= 0 && g->nodes.data[v].conv_guest)
            guest[g->nodes.data[v].buf] = true;
    int *set = xalloc(sizeof(int) * (size_t)(nb + 1));
    int n_main = 0, n_guest = 0;
    for (int b = 0; b < nb; b++)
        if (!guest[b])
            set[n_main++] = b;
    for (int b = 0; b < nb; b++)
        if (guest[b])
            set[n_main + n_guest++] = b;
    long peak_main;
    p->arena_main = place_set(p, set, n_main, &peak_main);
    long peak_guest;
    long guests = place_set(p, set + n_main, n_guest, &peak_guest);
    for (int k = n_main; k < nb; k++)
        p->bufs.data[set[k]].offset += p->arena_main;
    p->arena = p->arena_main + guests;

    /* peak of simultaneously live scalars: the lower bound for the arena */
    p->peak_live = 0;
    for (int v = 0; v < n; v++) {
        long live = 0;
        for (int b = 0; b < nb; b++)
            if (p->bufs.data[b].first <= v && v <= p->bufs.data[b].last)
                live += aligned(p->bufs.data[b].size);
        if (live > p->peak_live)
            p->peak_live = live;
    }
}

void run_passes(struct lowered *lo) {
    for (int i = 0; i < lo->progs.len; i++) {
        pass_dce(&lo->progs.data[i]);
        pass_fuse(&lo->progs.data[i]);
        pass_conv(&lo->progs.data[i]);
        pass_plan(&lo->progs.data[i]);
    }
}
