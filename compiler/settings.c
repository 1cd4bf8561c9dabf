/* settings.c: the checks that sema and the objectives share: arguments,
 * settings blocks (one table of keys per block, so unknown keys get a
 * did-you-mean and duplicates a note at the first), and network names. */
#include "genc.h"

#include <math.h>
#include <string.h>

const char *const data_kinds[N_DATA_KINDS] = {"fashion_mnist", "ring8", "images"};

static const char *plural(int n) { return n == 1 ? "" : "s"; }

void unknown(struct loc at, const char *what, const char *name, const char *const *cands, int n) {
    const char *best = closest_name(name, cands, n);
    if (best) {
        error_at(at, "unknown %s '%s'; did you mean '%s'?", what, name, best);
        return;
    }
    char *list = xprintf("%s", "");
    for (int i = 0; i < n; i++)
        list = xprintf("%s%s'%s'", list, i ? ", " : "", cands[i]);
    error_at(at, "unknown %s '%s' (expected %s)", what, name, list);
}

/* ---- arguments --------------------------------------------------- */

bool want_args(const struct stmt *s, int lo, int hi) {
    int n = s->args.len;
    if (n >= lo && n <= hi)
        return true;
    struct loc at = n > hi ? s->args.data[hi].loc : s->loc;
    if (lo == hi)
        error_at(at, "'%s' takes %d argument%s, got %d", s->name, lo, plural(lo), n);
    else
        error_at(at, "'%s' takes %d to %d arguments, got %d", s->name, lo, hi, n);
    return false;
}

bool arg_num(const struct arg *a, const char *what, double *out) {
    if (a->kind != ARG_NUM) {
        error_at(a->loc, "%s must be a number", what);
        return false;
    }
    if (!isfinite(a->num)) {
        error_at(a->loc, "%s must be finite", what);
        return false;
    }
    *out = a->num;
    return true;
}

bool arg_int(const struct arg *a, const char *what, long lo, long hi, long *out) {
    double v;
    if (!arg_num(a, what, &v))
        return false;
    if (v != floor(v) || v < (double)lo || v > (double)hi) {
        error_at(a->loc, "%s must be a whole number from %ld to %ld, got %s", what, lo, hi, a->text);
        return false;
    }
    *out = (long)v;
    return true;
}

bool arg_range(const struct arg *a, const char *what, double lo, double hi, bool hi_open, double *out) {
    double v;
    if (!arg_num(a, what, &v))
        return false;
    if (v < lo || v > hi || (hi_open && v == hi)) {
        error_at(a->loc, "%s must be in [%g, %g%c, got %s", what, lo, hi, hi_open ? ')' : ']', a->text);
        return false;
    }
    *out = v;
    return true;
}

bool arg_ident(const struct arg *a, const char *what, const char **out) {
    if (a->kind != ARG_IDENT) {
        error_at(a->loc, "%s must be a name", what);
        return false;
    }
    *out = a->text;
    return true;
}

/* ---- settings blocks ---------------------------------------------------- */

/* Look up each statement's key in `keys`; report unknown and repeated
 * ones.  found[k] is the statement for keys[k], or NULL. */
void settings(const stmt_vec *body, const char *block, const char *const *keys, int n_keys,
                     const struct stmt **found) {
    for (int k = 0; k < n_keys; k++)
        found[k] = NULL;
    for (int i = 0; i < body->len; i++) {
        const struct stmt *s = &body->data[i];
        int k = 0;
        while (k < n_keys && strcmp(keys[k], s->name))
            k++;
        if (k == n_keys) {
            unknown(s->loc, xprintf("%s setting", block), s->name, keys, n_keys);
            continue;
        }
        if (found[k]) {
            error_at(s->loc, "'%s' is set twice", s->name);
            note_at(found[k]->loc, "first set here");
            continue;
        }
        found[k] = s;
    }
}

/* ---- networks ------------------------------------------------------------ */

int find_network(const struct model *m, const char *name) {
    for (int i = 0; i < m->nets.len; i++)
        if (!strcmp(m->nets.data[i].name, name))
            return i;
    return -1;
}

const char **net_names(const struct model *m) {
    const char **names = xalloc(sizeof(char *) * (size_t)(m->nets.len + 1));
    for (int i = 0; i < m->nets.len; i++)
        names[i] = m->nets.data[i].name;
    return names;
}

int resolve_network(const struct model *m, const struct arg *a) {
    int n = find_network(m, a->text);
    if (n < 0)
        unknown(a->loc, "network", a->text, net_names(m), m->nets.len);
    return n;
}


void require_optimizer(const struct model *m, int net) {
    const struct network *n = &m->nets.data[net];
    if (n->opt == -1) /* not OPT_FAILED: that optimize has its own error */
        error_at(n->loc, "network '%s' is trained by the objective but has no 'optimize %s with ...'", n->name, n->name);
}
